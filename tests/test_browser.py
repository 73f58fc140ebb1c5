"""The clinician's path in a real browser: Debian's chromium driven by Playwright against
``streamlit run app.py`` on localhost. Screenshots go to artifacts/browser/ (look at them).

Each test of the "what the model reads is what the user sees" group reproduces one way the page
used to predict on something else than what it showed, and checks what it does now.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pydicom
import pytest
from PIL import Image

from mmcrnet import DISCLAIMER, read_paths
from tests.browser_support import DRAWN, wait_idle
from ui.server import CHROMIUM, CHROMIUM_ARGS, RunningApp, running_app

ROOT = Path(__file__).resolve().parent.parent
SHOTS = ROOT / "artifacts" / "browser"
EXAMPLES = ROOT / "assets" / "examples" / "images"
SERIES = sorted((EXAMPLES / "PH00019" / "mri").glob("*.dcm"))

if not Path(CHROMIUM).exists():  # the README's test command installs it
    pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium)", allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api")


@pytest.fixture(scope="module")
def app() -> Iterator[RunningApp]:
    with running_app() as running:
        yield running


def _open(app: RunningApp, width: int):
    playwright = sync_api.sync_playwright().start()
    browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    page = browser.new_page(viewport={"width": width, "height": 1000})
    page.set_default_timeout(60_000)
    page.goto(app.url, wait_until="networkidle")
    page.get_by_role("button", name="Predict", exact=True).wait_for()
    return playwright, browser, page


@pytest.fixture()
def page(app: RunningApp, request: pytest.FixtureRequest):
    SHOTS.mkdir(parents=True, exist_ok=True)
    playwright, browser, page = _open(app, 1400)
    yield page
    if getattr(request.node, "failed", False):
        page.screenshot(path=str(SHOTS / f"failed-{request.node.name}.png"), full_page=True)
    browser.close()
    playwright.stop()


@pytest.fixture()
def narrow_page(app: RunningApp):
    SHOTS.mkdir(parents=True, exist_ok=True)
    playwright, browser, page = _open(app, 800)
    yield page
    browser.close()
    playwright.stop()


def _shot(page, name: str) -> None:
    """A screenshot of the whole page (the viewport grown to the page's height for it)."""
    size = page.viewport_size
    height = page.locator('[data-testid="stMain"]').evaluate("(el) => el.scrollHeight")
    page.set_viewport_size({"width": size["width"], "height": min(int(height) + 80, 9000)})
    page.wait_for_function(DRAWN)
    page.wait_for_timeout(1000)  # charts redraw at the new size (plotly debounces resizes)
    page.screenshot(path=str(SHOTS / f"{name}.png"))
    page.set_viewport_size(size)


def _main_text(page) -> str:
    return page.locator('[data-testid="stMain"]').inner_text()


def _source(page, name: str) -> None:
    page.get_by_test_id("stRadioGroup").first.get_by_text(name, exact=True).click()


def _image_uploader(page):
    _source(page, "Upload")
    page.get_by_text("DICOM files of one series").wait_for()
    _wait_idle(page)
    return page.locator('[data-testid="stFileUploaderDropzoneInput"]').first


def _fill(page, label: str, value: str) -> None:
    field = page.get_by_label(label, exact=True)
    field.fill(value)
    field.press("Tab")


def _choose(page, label: str, option: str) -> None:
    """Pick an option; a rerun that redraws the page can close the list, so try again."""
    box = page.get_by_role("combobox", name=label, exact=True)
    for _ in range(3):
        box.click()
        try:
            page.get_by_role("option", name=option, exact=True).click(timeout=5_000)
            return
        except sync_api.TimeoutError:
            page.keyboard.press("Escape")
    raise AssertionError(f"could not choose {option!r} in {label!r}")


def _predict(page) -> None:
    page.get_by_role("button", name="Predict", exact=True).click()
    _wait_idle(page)


def _wait_result(page) -> str:
    page.get_by_text("3. Result").wait_for()
    page.get_by_text("of the form (").wait_for()
    return _main_text(page)


def _probabilities(page) -> list[str]:
    return [page.get_by_test_id("stMetric").nth(i).inner_text() for i in range(3)]


def _example(page, case_id: str = "PH00019") -> None:
    page.get_by_role("combobox", name="Example case (phantom, truth known)").click()
    page.keyboard.type(case_id)  # filter the list to the case
    page.get_by_role("option", name=case_id, exact=True).click()
    page.get_by_text("What the model will read").wait_for()
    _wait_idle(page)  # the form shows the case (a click before that can race its values)
    age = page.get_by_label("Age (years)", exact=True)
    page.wait_for_function("(el) => el.value !== ''", arg=age.element_handle())


def _png(pixels: np.ndarray) -> bytes:
    out = io.BytesIO()
    Image.fromarray(np.round(np.clip(pixels, 0, 1) * 255).astype(np.uint8)).save(out, "PNG")
    return out.getvalue()


def _files(page, files: list[tuple[str, bytes]], mime: str) -> None:
    _image_uploader(page).set_input_files(
        [{"name": name, "mimeType": mime, "buffer": data} for name, data in files]
    )
    _wait_idle(page)


_wait_idle = wait_idle  # shared with the other browser tests


# --- the clinician's path ------------------------------------------------------------------------


def test_upload_series_fill_form_and_predict(page) -> None:
    _image_uploader(page).set_input_files([str(p) for p in SERIES])
    page.get_by_text("Read: MR (mri), 3 phase(s)").wait_for()
    page.get_by_text("What the model will read").wait_for()
    _wait_idle(page)
    _fill(page, "Age (years)", "47")
    _fill(page, "ER-positive cells (%)", "0")
    _fill(page, "PR-positive cells (%)", "0")
    _fill(page, "Ki-67 index (%)", "55")
    _choose(page, "HER2 status", "negative")
    _choose(page, "Neoadjuvant regimen", "AC-T+pembrolizumab")
    # An empty week is the time point's nominal week (T1: 3), shown as a placeholder.
    assert page.get_by_label("Week at T1", exact=True).input_value() == ""
    assert page.get_by_label("Week at T1", exact=True).get_attribute("placeholder") == (
        "3 (nominal)"
    )
    _fill(page, "Tumour diameter (cm) at T0", "3.4")
    _fill(page, "Tumour diameter (cm) at T1", "2.1")
    _fill(page, "ctDNA tumour fraction (%) at T0", "1.2")
    _shot(page, "1-form")
    _predict(page)
    text = _wait_result(page)
    page.get_by_text("Where the image pushes towards pCR").wait_for()
    page.locator(".js-plotly-plot").nth(1).wait_for()  # reasons and the attribution heatmap
    text = _main_text(page)
    assert DISCLAIMER in text and "trained on synthetic phantom cohort" in text
    assert "2 time point(s)" in text  # the table edits reached the model
    # The phases explained are named from the data (the series' trigger times).
    assert "pre: phase 1, 0 s" in text and "early: phase 2, 90 s" in text
    assert "T1 (week 3)" in text  # the heatmap's column: T1 reached the model at week 3
    assert (
        re.search(r"Tumour diameter 2\.1 cm at week 3: (towards|away from)", text)
        or "Tumour diameter 3.4 cm" in text
    )  # reasons give the value and its unit
    _shot(page, "2-result")


# --- out-of-range values -----------------------------------------------------------------------


def test_out_of_range_values_stop_predict_and_stay_in_the_form(page) -> None:
    _fill(page, "Age (years)", "250")
    _fill(page, "ER-positive cells (%)", "150")
    _fill(page, "Tumour diameter (cm) at T0", "-2")
    _fill(page, "Tumour diameter (cm) at T1", "2")
    _fill(page, "Week at T1", "200")
    _predict(page)
    page.get_by_text("Cannot predict: 4 values are not valid").wait_for()
    text = _main_text(page)
    assert "each is marked in red under its field" in text
    assert "Age: 250 years is outside the accepted range 18 to 100 years" in text
    assert "ER-positive cells: 150 % is outside" in text
    assert "Week 200 at T1 is outside the accepted range 0 to 52 weeks" in text
    assert "Predicted response" not in text and "3. Result" not in text
    assert page.get_by_label("Age (years)", exact=True).input_value() == "250"
    assert page.get_by_label("Week at T1", exact=True).input_value() == "200"
    _shot(page, "3-out-of-range")
    _fill(page, "Age (years)", "52")  # fixed values: Predict runs on what is shown
    _fill(page, "ER-positive cells (%)", "90")
    _fill(page, "Tumour diameter (cm) at T0", "3")
    _fill(page, "Week at T1", "3")
    _predict(page)
    text = _wait_result(page)
    assert "not valid" not in text


# --- rejected uploads --------------------------------------------------------------------------


def test_bad_upload_shows_one_line_and_keeps_the_form(page, tmp_path: Path) -> None:
    _fill(page, "Age (years)", "61")
    broken = tmp_path / "broken.dcm"
    broken.write_bytes(SERIES[0].read_bytes()[:400])  # a truncated DICOM
    _image_uploader(page).set_input_files(str(broken))
    alert = page.get_by_text("broken.dcm:", exact=False).first
    alert.wait_for()
    assert "\n" not in alert.inner_text().strip()
    assert page.get_by_label("Age (years)", exact=True).input_value() == "61"
    assert "Traceback" not in page.content()
    _predict(page)  # no silent "image: none"
    page.get_by_text("Cannot predict: the image cannot be used").wait_for()
    assert "3. Result" not in _main_text(page)
    _shot(page, "4-bad-upload")
    page.get_by_test_id("stCheckbox").get_by_text("Predict without the image").click()
    _wait_idle(page)
    _predict(page)
    text = _wait_result(page)
    assert "Not read by the model: the image" in text and "image: none" in text


def test_one_bad_file_among_good_ones_is_named_and_left_out_on_request(
    page, tmp_path: Path
) -> None:
    broken = tmp_path / "broken.dcm"
    broken.write_bytes(SERIES[0].read_bytes()[:400])
    _image_uploader(page).set_input_files([*map(str, SERIES), str(broken)])
    page.get_by_text("The upload was not read: broken.dcm").wait_for()
    page.get_by_text("Leave out the files that cannot be read and use the rest").click()
    page.get_by_text("What the model will read").wait_for()
    text = _main_text(page)
    assert re.search(r"Left out: broken\.dcm: .+", text)
    assert "3 phase(s)" in text
    _predict(page)  # the image alone, an empty form: no blank charts, no "calibrated"
    text = _wait_result(page)
    page.get_by_text("No reasons in the form").wait_for()
    assert "not calibrated for a case like this one" in text
    assert "0 of 22 baseline values and 0 of 3 values at 1 time point" in text
    _shot(page, "5-left-out")


# --- examples ----------------------------------------------------------------------------------


def test_choosing_an_example_loads_it_and_it_survives_another_page(page) -> None:
    box = page.get_by_role("combobox", name="Example case (phantom, truth known)")
    # None shown, none held: the box shows its placeholder and the form is empty.
    page.get_by_placeholder("Choose an example case to load it").wait_for()
    assert page.get_by_label("Age (years)", exact=True).input_value() == ""
    _predict(page)  # an empty page predicts nothing
    page.get_by_text("Cannot predict: there is nothing to predict from").wait_for()
    assert "3. Result" not in _main_text(page)
    _example(page, "PH00004")
    assert page.get_by_label("Age (years)", exact=True).input_value() != ""
    age = page.get_by_label("Age (years)", exact=True).input_value()
    _predict(page)
    _wait_result(page)
    page.get_by_role("link", name="About").click()
    page.get_by_text("bundled phantom example", exact=False).first.wait_for()
    page.get_by_role("link", name="Predict").click()
    page.get_by_text("What the model will read").wait_for()
    _wait_idle(page)
    assert box.input_value() == "PH00004"  # the box names the case that is shown
    assert page.get_by_label("Age (years)", exact=True).input_value() == age
    assert box.count() == 1


# --- PNG/JPEG phases ---------------------------------------------------------------------------


def _phase_pngs() -> list[bytes]:
    study = read_paths(SERIES)
    return [_png(p.volume[study.slice_index]) for p in study.phases]  # pre, early, late


def test_png_phases_come_from_names_not_from_upload_order(page) -> None:
    pre, early, late = _phase_pngs()
    _example(page)  # the example's form, then its phases as PNG files named out of order
    _files(page, [("a_late.png", late), ("b_pre.png", pre), ("c_early.png", early)], "image/png")
    page.get_by_text("Read: MR (mri), 3 phase(s): pre, early, late").wait_for()  # names' order
    _predict(page)
    _wait_result(page)
    first = _probabilities(page)
    _shot(page, "6-png-phases")
    page.reload()  # a new session: the uploader would add the files to the ones it holds
    page.get_by_role("button", name="Predict", exact=True).wait_for()
    _example(page)
    _files(page, [("c_early.png", early), ("b_pre.png", pre), ("a_late.png", late)], "image/png")
    page.get_by_text("Read: MR (mri), 3 phase(s): pre, early, late").wait_for()
    _predict(page)
    _wait_result(page)
    assert _probabilities(page) == first  # the order of upload does not change the answer


def test_unnamed_png_phases_are_assigned_by_the_user(page) -> None:
    pre, early, late = _phase_pngs()
    _example(page)
    _files(page, [("img1.png", late), ("img2.png", pre), ("img3.png", early)], "image/png")
    page.get_by_text("The file names do not say which image is which phase").wait_for()
    _predict(page)
    page.get_by_text("Cannot predict: the image cannot be used").wait_for()
    page.get_by_text("the phase of each image is not known").first.wait_for()
    _fill(page, "Seconds after contrast: img1.png", "360")
    _fill(page, "Seconds after contrast: img2.png", "0")
    _fill(page, "Seconds after contrast: img3.png", "90")
    page.get_by_text("What the model will read").wait_for()
    text = _main_text(page)
    assert "pre: 0 s" in text and "early: 90 s" in text and "late: 360 s" in text


# --- one study, one patient --------------------------------------------------------------------


def test_phases_of_two_patients_are_refused_unless_overridden(page, tmp_path: Path) -> None:
    other = pydicom.dcmread(EXAMPLES / "PH00004" / "mri" / "phase3.dcm")
    path = tmp_path / "other_phase3.dcm"
    other.save_as(path)
    _image_uploader(page).set_input_files([str(SERIES[0]), str(SERIES[1]), str(path)])
    page.get_by_text("The upload was not read:").wait_for()
    text = _main_text(page)
    assert "other_phase3.dcm" in text and "Patient ID" in text
    _shot(page, "7-two-patients")
    page.get_by_text("These files are one patient's study although their IDs differ").click()
    page.get_by_text("What the model will read").wait_for()
    _fill(page, "Age (years)", "50")
    _predict(page)
    text = _wait_result(page)
    assert "disagree on patient, study or frame of reference" in text


# --- out of distribution -----------------------------------------------------------------------


def test_head_mr_as_three_phases_is_flagged_and_withheld(page, tmp_path: Path) -> None:
    from pydicom.data import get_testdata_file

    paths = []
    for i, ms in enumerate((0, 90_000, 360_000)):
        ds = pydicom.dcmread(get_testdata_file("MR_small.dcm"))
        ds.TriggerTime = ms
        ds.SOPInstanceUID = f"{ds.SOPInstanceUID}.{i + 1}"
        paths.append(tmp_path / f"head{i + 1}.dcm")
        ds.save_as(paths[-1])
    _image_uploader(page).set_input_files([str(p) for p in paths])
    page.get_by_text("Read: MR (mri), 3 phase(s)").wait_for()
    _predict(page)
    text = _wait_result(page)
    assert "outside what the model was trained on" in text and "withheld" in text
    assert page.get_by_test_id("stMetric").count() == 0  # no probabilities shown
    assert "calibrated" not in text
    _shot(page, "8-out-of-distribution")


def test_a_mostly_empty_form_is_never_called_calibrated(page) -> None:
    _fill(page, "Age (years)", "50")
    _source(page, "No image")
    _predict(page)
    text = _wait_result(page)
    assert "The model had" in text
    assert "baseline values are given; every training case had at least half" in text
    assert "not calibrated for a case like this one" in text
    assert "probabilities calibrated" not in text


# --- the mammogram map and the narrow layout ---------------------------------------------------


def test_mammogram_map_carries_its_caveat(page) -> None:
    page.get_by_test_id("stRadioGroup").nth(1).get_by_text("mammogram", exact=True).click()
    _example(page)
    _predict(page)
    _wait_result(page)
    page.get_by_text("Mammogram maps are not reliable yet: they").wait_for()  # the warning
    assert page.get_by_text("Overlay opacity").count() == 0  # no map unless asked for
    page.get_by_text("Show the unreliable mammogram map anyway").click()
    page.get_by_text("Overlay opacity").wait_for()
    _shot(page, "10-mammogram")


def test_layout_at_800_px(narrow_page) -> None:
    page = narrow_page
    main = page.get_by_test_id("stMain").bounding_box()
    assert main["x"] < 10 and main["width"] > 780  # the sidebar starts closed: the page has it all
    _example(page)
    _predict(page)
    _wait_result(page)
    page.get_by_text("Where the image pushes towards pCR").wait_for()
    overlays = page.locator('[data-testid="stImage"] img')
    overlays.nth(5).wait_for()
    widths = [overlays.nth(i).bounding_box()["width"] for i in range(3, 6)]
    assert min(widths) >= 150, widths
    _shot(page, "9-800px")


def test_about_page_at_both_widths(page) -> None:
    page.get_by_role("link", name="About").click()
    page.get_by_text("bundled phantom example", exact=False).first.wait_for()
    assert DISCLAIMER in _main_text(page)
    for width in (1400, 800):
        page.set_viewport_size({"width": width, "height": 1000})
        _shot(page, f"11-about-{width}px")
