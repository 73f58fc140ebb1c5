"""The educator's path in a real browser (Debian's chromium through Playwright): the Gallery,
a case opened from it with its truth, one "what if" curve and one quiz round played with a click
on the image. Screenshots at 1400 and 800 px go to artifacts/browser/ (look at them); the time to
open a case and to draw a curve goes to artifacts/browser/teach-timings.json."""

from __future__ import annotations

import json
import time
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
    with environment({"ONCOPREDICT_WORK": work}), running_app() as running:
        yield running


@pytest.fixture()
def page(app: RunningApp, request: pytest.FixtureRequest):
    with browser_page(app.url) as page:
        yield page
        if getattr(request.node, "failed", False):
            page.screenshot(path=str(SHOTS / f"failed-{request.node.name}.png"), full_page=True)


_wait_idle, _shots = wait_idle, shots


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
