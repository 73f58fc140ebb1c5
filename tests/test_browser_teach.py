"""The educator's path in a real browser (Debian's chromium through Playwright): the Gallery,
a case opened from it with its truth, one "what if" curve and one quiz round played with a click
on the image. Screenshots at 1400 and 800 px go to artifacts/browser/ (look at them); the time to
open a case and to draw a curve goes to artifacts/browser/teach-timings.json."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from ui.server import CHROMIUM, CHROMIUM_ARGS, RunningApp, running_app

ROOT = Path(__file__).resolve().parent.parent
SHOTS = ROOT / "artifacts" / "browser"

if not Path(CHROMIUM).exists():  # the README's test command installs it
    pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium)", allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api")


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningApp]:
    work = tmp_path_factory.mktemp("work")
    saved = os.environ.get("ONCOPREDICT_WORK")
    os.environ["ONCOPREDICT_WORK"] = str(work)
    try:
        with running_app() as running:
            yield running
    finally:
        if saved is None:
            os.environ.pop("ONCOPREDICT_WORK", None)
        else:
            os.environ["ONCOPREDICT_WORK"] = saved


@pytest.fixture()
def page(app: RunningApp, request: pytest.FixtureRequest):
    SHOTS.mkdir(parents=True, exist_ok=True)
    playwright = sync_api.sync_playwright().start()
    browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.set_default_timeout(120_000)
    page.goto(app.url, wait_until="networkidle")
    page.get_by_role("button", name="Predict", exact=True).wait_for()
    yield page
    if getattr(request.node, "failed", False):
        page.screenshot(path=str(SHOTS / f"failed-{request.node.name}.png"), full_page=True)
    browser.close()
    playwright.stop()


def _wait_idle(page) -> None:
    status = page.locator('[data-testid="stStatusWidget"]')
    try:
        status.wait_for(state="attached", timeout=1_500)
    except sync_api.TimeoutError:
        pass
    status.wait_for(state="detached", timeout=120_000)
    page.wait_for_timeout(300)


def _shots(page, name: str) -> None:
    """The whole page at 1400 and at 800 px."""
    for width in (1400, 800):
        page.set_viewport_size({"width": width, "height": 1000})
        page.wait_for_timeout(1500)
        height = page.locator('[data-testid="stMain"]').evaluate("(el) => el.scrollHeight")
        page.set_viewport_size({"width": width, "height": min(int(height) + 80, 9000)})
        page.wait_for_timeout(2500)  # charts redraw at the new size
        page.screenshot(path=str(SHOTS / f"{name}-{width}px.png"))
    page.set_viewport_size({"width": 1400, "height": 1000})


def _go(page, title: str) -> None:
    page.get_by_role("button", name="Teach").click()
    page.get_by_role("menuitem", name=title).click()
    _wait_idle(page)


def _record(name: str, seconds: float) -> None:
    path = SHOTS / "teach-timings.json"
    figures = json.loads(path.read_text()) if path.is_file() else {}
    figures[name] = round(seconds, 2)
    path.write_text(json.dumps(figures, indent=2))


def test_gallery_opens_a_case_with_its_truth_and_draws_a_what_if(page) -> None:
    _go(page, "Gallery")
    page.get_by_text("Showing 12 of 12 cases").wait_for()
    page.locator('[data-testid="stImage"]').nth(11).wait_for()
    _shots(page, "24-gallery")

    started = time.perf_counter()
    page.locator(
        ".st-key-gallery-open-PH00001 button >> visible=true"
    ).first.click()  # HER2+, partial
    page.get_by_text("The numbers (text equivalent of the chart)").wait_for()
    page.locator(".js-plotly-plot").nth(1).wait_for()  # probabilities, reasons
    _record("open_case_from_gallery_s", time.perf_counter() - started)
    _wait_idle(page)
    assert page.get_by_text("True outcome: partial").is_visible()
    assert page.get_by_text("Size: 2.6 cm across").is_visible()  # PH00001's tumour
    assert page.get_by_text("The map's strongest point").is_visible()
    _shots(page, "25-case-truth")

    page.get_by_role("button", name='"What if" for this case').click()
    page.get_by_text("What the curves say").wait_for()
    _wait_idle(page)
    started = time.perf_counter()
    page.get_by_role("combobox", name="Input to vary").click()
    page.get_by_role("option", name="Ki-67").click()
    page.get_by_text("From 1 % to 95 %").first.wait_for()
    page.locator(".js-plotly-plot").first.wait_for()
    _record("what_if_curve_s", time.perf_counter() - started)
    _wait_idle(page)
    assert page.get_by_text("PH00001 (HER2+, truth: partial)").is_visible()
    _shots(page, "26-what-if")


def test_one_quiz_round_with_a_click_on_the_image(page) -> None:
    _go(page, "Quiz")
    page.get_by_text("Case 1 of 10").wait_for()
    page.get_by_text("partial", exact=True).first.click()  # the learner's answer
    _wait_idle(page)
    plot = page.locator(".js-plotly-plot").first
    plot.wait_for()
    box = plot.bounding_box()
    assert box is not None
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.get_by_text("Your point: row").wait_for()
    _wait_idle(page)
    _shots(page, "27-quiz-round")
    page.get_by_role("button", name="Reveal the answer").click()
    page.get_by_text("The truth:").wait_for()
    _wait_idle(page)
    assert page.get_by_text("You answered partial").is_visible()
    text = page.locator('[data-testid="stMetricValue"]').first.inner_text()
    assert text.strip().endswith("/ 1")
    _shots(page, "28-quiz-reveal")
    page.get_by_role("button", name="Next case").click()
    page.get_by_text("Case 2 of 10").wait_for()
