"""Following a patient in a real browser (Debian's chromium through Playwright): a case predicted
and saved under a label, reopened on the Cases page, gone on with on Predict with a new time
point, added as the second visit, its trajectory across visits, and the PDF downloaded; the
viewer opened. Screenshots at 1400 and 800 px go to artifacts/browser/; the times to save,
reopen and build the PDF go to artifacts/browser/cases-timings.json."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from pypdf import PdfReader

from mmcrnet.store.store import CaseStore
from tests.browser_support import SHOTS, browser_page, environment, shots, wait_idle
from ui.server import CHROMIUM, RunningApp, running_app

ROOT = Path(__file__).resolve().parent.parent

if not Path(CHROMIUM).exists():  # the README's test command installs it
    pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium)", allow_module_level=True)
pytest.importorskip("playwright.sync_api")


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RunningApp, str]]:
    work = tmp_path_factory.mktemp("work")
    url = f"sqlite:///{work / 'cases.sqlite'}"
    with (
        environment({"ONCOPREDICT_WORK": str(work), "ONCOPREDICT_DB": url}),
        running_app() as running,
    ):
        yield running, url


_wait_idle, _shots = wait_idle, shots


def _fill(page, label: str, value: str) -> None:
    field = page.get_by_label(label, exact=True)
    field.fill(value)
    field.press("Tab")


def _predict(page) -> None:
    page.get_by_role("button", name="Predict", exact=True).click()
    page.get_by_text("4. Keep and take away").wait_for()
    _wait_idle(page)


def _save(page, button: str) -> float:
    started = time.perf_counter()
    page.get_by_role("button", name=button).click()
    page.get_by_text("Saved: breast-017").wait_for()
    return time.perf_counter() - started


def _follow(page, figures: dict[str, float]) -> None:
    """Save, reopen, add a visit, open the viewer, take the PDF, see the trajectory."""
    page.get_by_role("combobox", name="Example case (phantom, truth known)").click()
    page.keyboard.type("PH00001")
    page.get_by_role("option", name="PH00001", exact=True).click()
    page.get_by_text("What the model will read").wait_for()
    _wait_idle(page)
    for cell in page.locator('input[aria-label$=" at T2"], input[aria-label$=" at T3"]').all():
        cell.fill("")  # the first visit: baseline and week 3 only
        cell.press("Tab")
    _wait_idle(page)
    _predict(page)
    _fill(
        page,
        "Case label: a pseudonym of your own (never a name, ID or birth date)",
        "breast-017",
    )
    _wait_idle(page)
    figures["save_new_case_s"] = _save(page, "Save as a new case")

    started = time.perf_counter()
    page.get_by_role("link", name="Cases").click()
    page.get_by_text("breast-017: the prediction across visits").wait_for()
    page.get_by_role("button", name="Go on from visit 1 on the Predict page").click()
    page.get_by_text("What the model will read").wait_for()
    page.get_by_text("The image of the saved visit").wait_for()
    figures["reopen_case_s"] = time.perf_counter() - started
    _wait_idle(page)
    assert page.get_by_label("Tumour diameter (cm) at T2", exact=True).input_value() == ""
    _fill(page, "Tumour diameter (cm) at T2", "1.1")
    _fill(page, "ctDNA tumour fraction (%) at T2", "0")
    _wait_idle(page)
    _predict(page)
    figures["save_next_visit_s"] = _save(page, "Add as the next visit of breast-017")
    page.get_by_text("Viewer: window/level").click()
    page.get_by_text("Window 0.00 to 1.00").wait_for()
    _wait_idle(page)
    _shots(page, "29-predict-visit-2")

    started = time.perf_counter()
    page.get_by_role("button", name="Make the PDF report").click()
    with page.expect_download() as download:
        page.get_by_role("button", name="Download the report (PDF)").click()
    pdf = Path(download.value.path())
    figures["pdf_make_and_download_s"] = time.perf_counter() - started
    reader = PdfReader(pdf)
    text = " ".join(p.extract_text() for p in reader.pages)
    assert "breast-017" in text and "The prediction across visits" in text
    assert all("Research use only" in p.extract_text() for p in reader.pages)

    page.get_by_role("link", name="Cases").click()
    page.get_by_text("breast-017: the prediction across visits").wait_for()
    page.locator(".js-plotly-plot").first.wait_for()
    _wait_idle(page)
    _shots(page, "30-cases")


def test_a_patient_is_followed_across_visits_and_the_report_taken_away(app) -> None:
    running, url = app
    figures: dict[str, float] = {}
    with browser_page(running.url, accept_downloads=True) as page:
        try:
            _follow(page, figures)
        except BaseException:
            page.screenshot(path=str(SHOTS / "failed-cases.png"), full_page=True)
            raise
    case = CaseStore(url).case("breast-017")
    assert [v.time_points for v in case.visits] == [["T0", "T1"], ["T0", "T1", "T2"]]
    assert len(case.trajectory()) == 2
    (SHOTS / "cases-timings.json").write_text(
        json.dumps({k: round(v, 2) for k, v in figures.items()}, indent=2)
    )
