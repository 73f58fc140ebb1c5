"""What the browser tests share (Debian's chromium through Playwright): an app started with
its own environment, a page opened on it, waiting for a run to end, and screenshots at 1400 and
800 px into artifacts/browser/."""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ui.server import CHROMIUM, CHROMIUM_ARGS

ROOT = Path(__file__).resolve().parent.parent
#: True once every plotly chart on the page has its SVG and every image has loaded.
DRAWN = """() =>
    [...document.querySelectorAll('.js-plotly-plot')].every((c) => c.querySelector('.main-svg'))
    && [...document.querySelectorAll('[data-testid="stImage"] img')].every(
        (i) => i.complete && i.naturalWidth > 0)"""
SHOTS = ROOT / "artifacts" / "browser"


@contextmanager
def environment(values: Mapping[str, str | None]) -> Iterator[None]:
    """Set (or, for None, remove) environment variables, and put them back afterwards."""
    saved = {key: os.environ.get(key) for key in values}
    for key, value in values.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@contextmanager
def browser_page(url: str, **options: Any) -> Iterator[Any]:
    """A 1400 px page on ``url`` once the app has drawn its Predict page (``options`` go to
    ``new_page``); a 120 s timeout, as the research and teaching paths need under load."""
    from playwright.sync_api import sync_playwright

    SHOTS.mkdir(parents=True, exist_ok=True)
    playwright = sync_playwright().start()
    browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    try:
        page = browser.new_page(viewport={"width": 1400, "height": 1000}, **options)
        page.set_default_timeout(120_000)
        page.goto(url, wait_until="networkidle")
        page.get_by_role("button", name="Predict", exact=True).wait_for()
        yield page
    finally:
        browser.close()
        playwright.stop()


def wait_idle(page: Any) -> None:
    """Wait until the app has finished the run the last action started (the status widget
    shows while a run is going; under load it can take a moment to appear)."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    status = page.locator('[data-testid="stStatusWidget"]')
    try:
        status.wait_for(state="attached", timeout=1_500)
    except PlaywrightTimeout:
        pass  # the run was over before the widget showed
    status.wait_for(state="detached", timeout=120_000)
    page.wait_for_timeout(300)


def shots(page: Any, name: str) -> None:
    """The whole page at 1400 and at 800 px (``<name>-<width>px.png``)."""
    for width in (1400, 800):
        page.set_viewport_size({"width": width, "height": 1000})
        page.wait_for_timeout(500)
        height = page.locator('[data-testid="stMain"]').evaluate("(el) => el.scrollHeight")
        page.set_viewport_size({"width": width, "height": min(int(height) + 80, 9000)})
        page.wait_for_function(DRAWN)
        page.wait_for_timeout(1000)  # charts redraw at the new size (plotly debounces resizes)
        page.screenshot(path=str(SHOTS / f"{name}-{width}px.png"))
    page.set_viewport_size({"width": 1400, "height": 1000})
