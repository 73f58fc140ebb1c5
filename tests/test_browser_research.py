"""The researcher's path in a real browser (Debian's chromium through Playwright): a cohort
uploaded as a zip, checked, batch-predicted and evaluated with its plots; a small model trained
from the Train page to the end and compared; the Model page. Screenshots at 1400 and 800 px go
to artifacts/browser/ (look at them); how long another page took to open while the training ran
goes to artifacts/browser/research-timings.json."""

from __future__ import annotations

import io
import json
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.browser_support import SHOTS, browser_page, environment, shots, wait_idle
from ui.server import CHROMIUM, RunningApp, running_app

ROOT = Path(__file__).resolve().parent.parent

if not Path(CHROMIUM).exists():  # the README's test command installs it
    pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium)", allow_module_level=True)
pytest.importorskip("playwright.sync_api")


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningApp]:
    work = str(tmp_path_factory.mktemp("work"))
    with (
        environment({"ONCOPREDICT_WORK": work, "ONCOPREDICT_DATA_ROOT": None}),
        running_app() as running,
    ):
        yield running


@pytest.fixture()
def page(app: RunningApp, request: pytest.FixtureRequest):
    with browser_page(app.url) as page:
        yield page
        if getattr(request.node, "failed", False):
            page.screenshot(path=str(SHOTS / f"failed-{request.node.name}.png"), full_page=True)


_wait_idle, _shots = wait_idle, shots


def _go(page, title: str) -> None:
    """Open a page of the Research menu in the top bar."""
    page.get_by_role("button", name="Research").click()
    page.get_by_role("menuitem", name=title).click()
    _wait_idle(page)


def _cohort_zip(examples: Path) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for path in sorted(examples.rglob("*")):
            if path.is_file():
                archive.write(path, "examples/" + str(path.relative_to(examples)))
    return buffer.getvalue()


def test_a_cohort_is_uploaded_predicted_and_evaluated(page, examples_dir: Path) -> None:
    _go(page, "Cohorts")
    page.get_by_text("Cohort zip").wait_for()
    page.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(
        [
            {
                "name": "examples.zip",
                "mimeType": "application/zip",
                "buffer": _cohort_zip(examples_dir),
            }
        ]
    )
    _wait_idle(page)
    page.get_by_role("button", name="Unpack and check").click()
    page.get_by_text("'examples' follows the cohort format.").wait_for()
    started = time.perf_counter()
    page.get_by_role("button", name="Predict every case").click()
    page.get_by_text("4. Result").wait_for(timeout=300_000)
    seconds = time.perf_counter() - started
    page.get_by_text("macro AUC", exact=False).first.wait_for()
    page.locator(".js-plotly-plot").nth(2).wait_for()  # ROC, confusion, reliability
    page.get_by_text("Flagged by the guard").first.wait_for()
    page.get_by_role("button", name="Download CSV").wait_for()
    page.get_by_text("Macro AUC by subgroup").wait_for()  # the breakdown by time points, ...
    _record("batch_predict_12_cases_in_browser_s", round(seconds, 1))
    _shots(page, "20-cohorts")


def test_a_small_model_trains_to_the_end_and_is_compared(page, app: RunningApp) -> None:
    _go(page, "Train")
    cases = page.get_by_label("Cases", exact=True)
    cases.fill("60")
    cases.press("Enter")
    _wait_idle(page)
    epochs = page.get_by_label("At most epochs", exact=True)
    epochs.fill("3")
    epochs.press("Enter")
    _wait_idle(page)
    idle = _open_model_page(page, app)  # the same page, before any training: its peer
    started = time.perf_counter()
    page.get_by_role("button", name="Train", exact=True).click()
    page.get_by_text("Training curves").first.wait_for(timeout=300_000)
    responsive = _open_model_page(page, app)  # while it trains, in another session
    page.get_by_text("Compared on the same held-out cases").wait_for(timeout=600_000)
    trained = time.perf_counter() - started
    text = page.get_by_test_id("stMain").inner_text()
    assert "held-out cases of synthetic phantom cohort (cohort-spec, n=60, seed=11)" in text
    page.get_by_role("button", name="Download weights and card (zip)").wait_for()
    _record("train_60_cases_3_epochs_with_guard_and_comparison_s", round(trained, 1))
    _record("model_page_opened_while_training_s", round(responsive, 1))
    _record("model_page_opened_idle_s", round(idle, 1))
    _shots(page, "21-train")
    page.get_by_role("button", name="Use this model in this session").click()
    page.get_by_text("This session now uses phantom-60-seed11").wait_for()
    _go(page, "Model")
    page.get_by_text("Model card").wait_for()
    _shots(page, "22-model-trained")


def test_the_model_page_at_both_widths(page) -> None:
    _go(page, "Model")
    page.get_by_text("Tables 2 and 4", exact=True).wait_for()
    page.get_by_text("Explanations checked against the truth", exact=True).wait_for()
    _shots(page, "23-model")


def _open_model_page(page, app: RunningApp) -> float:
    """Seconds for another tab (another session) to open the Model page and draw its card."""
    second = page.context.browser.new_page(viewport={"width": 1400, "height": 1000})
    opened = time.perf_counter()
    second.goto(app.url + "/model", wait_until="networkidle")
    second.get_by_text("Model card").wait_for(timeout=120_000)
    seconds = time.perf_counter() - opened
    second.close()
    return seconds


def _record(name: str, value: float) -> None:
    path = SHOTS / "research-timings.json"
    data = json.loads(path.read_text()) if path.is_file() else {}
    data[name] = value
    path.write_text(json.dumps(data, indent=1) + "\n")
