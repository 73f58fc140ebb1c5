"""One user's case, images and result are never shown to another: two browser contexts (two
users, no shared cookies) against one running server, in Debian's chromium via Playwright.

What the server shares between sessions is ``ui.state``'s ``st.cache_resource`` values (the
model, the guard, the read-only example cohort); everything a user enters or uploads lives in
their own ``st.session_state`` and the uploaded-file manager's per-session store.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.test_browser import (
    SERIES,
    _example,
    _files,
    _main_text,
    _predict,
    _probabilities,
    _source,
    _wait_idle,
    _wait_result,
)
from ui.server import CHROMIUM, CHROMIUM_ARGS, RunningApp, running_app

sync_api = pytest.importorskip("playwright.sync_api")

CASE_A, AGE_A = "PH00019", "38.8"  # assets/examples/cases.csv
CASE_B, AGE_B = "PH00364", "72"
#: A's upload, under names no example uses, so they can be looked for on B's page.
UPLOAD_A = [(f"patient_a_{path.name}", path.read_bytes()) for path in SERIES]


@pytest.fixture(scope="module")
def app() -> Iterator[RunningApp]:
    with running_app() as running:
        yield running


@pytest.fixture()
def browser():
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def _user(browser, app: RunningApp):
    """A new user: a browser context of their own (no cookies, storage or tabs shared)."""
    page = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
    page.set_default_timeout(60_000)
    page.goto(app.url, wait_until="networkidle")
    page.get_by_role("button", name="Predict", exact=True).wait_for()
    return page


def _age(page) -> str:
    return page.get_by_label("Age (years)", exact=True).input_value()


def _uploaded_names(page) -> list[str]:
    return page.get_by_test_id("stFileChipName").all_inner_texts()


def test_a_session_never_sees_another_sessions_case_images_or_result(
    app: RunningApp, browser
) -> None:
    a = _user(browser, app)
    _example(a, CASE_A)
    assert _age(a) == AGE_A
    _files(a, UPLOAD_A, "application/dicom")
    a.get_by_text("Read: MR (mri), 3 phase(s)").wait_for()
    _predict(a)
    _wait_result(a)
    result_a = _probabilities(a)
    assert sorted(_uploaded_names(a)) == sorted(name for name, _ in UPLOAD_A)

    b = _user(browser, app)  # while A's session holds its case, upload and result
    page_b = _main_text(b)
    b.get_by_placeholder("Choose an example case to load it").wait_for()
    assert _age(b) == ""
    assert "3. Result" not in page_b and b.get_by_test_id("stMetric").count() == 0
    assert "patient_a_" not in page_b and AGE_A not in page_b
    _source(b, "Upload")
    b.get_by_text("DICOM files of one series").wait_for()
    _wait_idle(b)
    assert _uploaded_names(b) == []
    assert "Read: MR" not in _main_text(b)  # nothing read for B

    _source(b, "Bundled example")
    _wait_idle(b)
    _example(b, CASE_B)
    assert _age(b) == AGE_B
    _predict(b)
    text_b = _wait_result(b)
    assert "patient_a_" not in text_b

    # A's page, drawn again by a run of its own after B's: still A's case, upload and result.
    assert _age(a) == AGE_A
    _predict(a)
    _wait_result(a)
    assert _age(a) == AGE_A
    assert _probabilities(a) == result_a
    assert sorted(_uploaded_names(a)) == sorted(name for name, _ in UPLOAD_A)
    assert _age(b) == AGE_B  # and B's stays B's
