"""The clinician's path in a real browser: Debian's chromium driven by Playwright against
``streamlit run app.py`` on localhost. Screenshots go to artifacts/browser/ (look at them)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from mmcrnet import DISCLAIMER
from ui.server import CHROMIUM, CHROMIUM_ARGS, RunningApp, running_app

ROOT = Path(__file__).resolve().parent.parent
SHOTS = ROOT / "artifacts" / "browser"
SERIES = sorted((ROOT / "assets" / "examples" / "images" / "PH00019" / "mri").glob("*.dcm"))

if not Path(CHROMIUM).exists():  # the README's test command installs it
    pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium)",
                allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api")


@pytest.fixture(scope="module")
def app() -> Iterator[RunningApp]:
    with running_app() as running:
        yield running


@pytest.fixture()
def page(app: RunningApp):  # noqa: ANN201 - a playwright Page
    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.set_default_timeout(60_000)
        page.goto(app.url, wait_until="networkidle")
        page.get_by_role("button", name="Predict").wait_for()
        yield page
        browser.close()


def _image_uploader(page):  # noqa: ANN001, ANN202 - the images' file input
    page.get_by_test_id("stRadioGroup").get_by_text("Upload", exact=True).click()
    page.get_by_text("DICOM files of one series").wait_for()
    return page.locator('[data-testid="stFileUploaderDropzoneInput"]').first


def _upload_series(page) -> None:  # noqa: ANN001
    _image_uploader(page).set_input_files([str(p) for p in SERIES])


def _fill(page, label: str, value: str) -> None:  # noqa: ANN001
    field = page.get_by_label(label, exact=True)
    field.fill(value)
    field.press("Tab")


def _choose(page, label: str, option: str) -> None:  # noqa: ANN001
    page.get_by_role("combobox", name=label, exact=True).click()
    page.get_by_role("option", name=option, exact=True).click()


def test_upload_series_fill_form_and_predict(page) -> None:  # noqa: ANN001
    _upload_series(page)
    page.get_by_text("Read: MR (mri), 3 phase(s)").wait_for()
    _fill(page, "Age (years)", "47")
    _fill(page, "ER-positive cells (%)", "0")
    _fill(page, "PR-positive cells (%)", "0")
    _fill(page, "Ki-67 index (%)", "55")
    _choose(page, "HER2 status", "negative")
    _choose(page, "Neoadjuvant regimen", "AC-T+pembrolizumab")
    # An empty week is the time point's nominal week (T1: 3), shown as a placeholder.
    assert page.get_by_label("Week at T1", exact=True).input_value() == ""
    assert page.get_by_label("Week at T1", exact=True).get_attribute("placeholder") == (
        "3 (nominal)")
    _fill(page, "Tumour diameter (cm) at T0", "3.4")
    _fill(page, "Tumour diameter (cm) at T1", "2.1")
    _fill(page, "ctDNA tumour fraction (%) at T0", "1.2")
    page.screenshot(path=str(SHOTS / "1-form.png"))
    page.get_by_role("button", name="Predict").click()
    page.get_by_text("Predicted response:").wait_for()
    page.get_by_text("Where the image points towards").wait_for()
    page.locator('[data-testid="stImage"] img').nth(5).wait_for()  # originals and overlays
    page.locator(".js-plotly-plot").nth(1).wait_for()  # reasons and the attribution heatmap
    text = page.locator('[data-testid="stMain"]').inner_text()
    assert DISCLAIMER in text and "trained on synthetic phantom cohort" in text
    assert "2 time point(s), image: mri" in text  # the table edits reached the model
    assert "T1 (week 3)" in text  # the heatmap's column: T1 reached the model at week 3
    page.locator('[data-testid="stMain"]').evaluate("(el) => el.scrollBy(0, 1400)")
    page.screenshot(path=str(SHOTS / "2-result.png"))


def test_bad_upload_shows_one_line_and_keeps_the_form(page, tmp_path: Path) -> None:  # noqa: ANN001
    _fill(page, "Age (years)", "61")
    broken = tmp_path / "broken.dcm"
    broken.write_bytes(b"DICM" + b"\x00" * 200)
    _image_uploader(page).set_input_files(str(broken))
    alert = page.get_by_text("broken.dcm:", exact=False)
    alert.wait_for()
    assert "\n" not in alert.inner_text().strip()
    assert page.get_by_label("Age (years)", exact=True).input_value() == "61.00"
    assert "Traceback" not in page.content()
    page.screenshot(path=str(SHOTS / "3-bad-upload.png"))
