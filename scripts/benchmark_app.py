"""Time the app in a real browser (Debian's chromium via Playwright) on this machine.

    .venv/bin/python scripts/benchmark_app.py [--repeats 5]

Prints JSON: cold start (launch to /_stcore/health, and to the Predict page ready in the
browser) and, on the warm server, Predict pressed -> the full result drawn (the run over, every
chart's SVG and every image loaded, the DICOM part included) for a bundled example with its
DCE-MRI, median and max over the repeats, each in a fresh session; then the same for other
cases in one session, whose browser has already loaded the result's code (Streamlit loads each
kind of element's code the first time a page draws one). ``python -m mmcrnet benchmark`` runs
it.
"""

from __future__ import annotations

import argparse
import json
import shlex
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from playwright.sync_api import sync_playwright

from ui.server import CHROMIUM, CHROMIUM_ARGS, running_app

#: The run is over (no status widget), and every chart has its SVG and every image has loaded.
SETTLED = """() =>
    !document.querySelector('[data-testid="stStatusWidget"]')
    && [...document.querySelectorAll('.js-plotly-plot')].every((c) => c.querySelector('.main-svg'))
    && [...document.querySelectorAll('[data-testid="stImage"] img')].every(
        (i) => i.complete && i.naturalWidth > 0)"""
#: ... and the result's last part is there.
FINISHED = SETTLED.replace(
    "() =>",
    "() => [...document.querySelectorAll('h3')].some((h) => h.textContent.startsWith('5. ')) &&",
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    launched = time.perf_counter()
    with running_app() as app, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.set_default_timeout(120_000)
        page.goto(app.url)
        page.get_by_role("button", name="Predict", exact=True).wait_for()
        ready = time.perf_counter() - launched
        submits = []
        for attempt in range(args.repeats + 1):  # the first one warms the model's caches
            if attempt:  # a fresh session each time, so no earlier result is on the page
                page.goto(app.url)
                page.get_by_role("button", name="Predict", exact=True).wait_for()
            page.get_by_role("combobox", name="Example case (phantom, truth known)").click()
            page.get_by_role("option", name="PH00019", exact=True).click()  # choosing = loading
            page.get_by_text("What the model will read").wait_for()
            page.wait_for_function(SETTLED, polling="raf")  # the page drawn, as a user sees it
            started = time.perf_counter()
            page.get_by_role("button", name="Predict", exact=True).click()
            page.get_by_text("of the form (").wait_for()  # the result has started to draw
            page.wait_for_function(FINISHED, polling="raf")
            if attempt:
                submits.append(time.perf_counter() - started)
        # The same session goes on with other cases: the browser has the result's code loaded.
        again = []
        for name in ["PH00001", "PH00019"] * ((args.repeats + 1) // 2):
            box = page.get_by_role("combobox", name="Example case (phantom, truth known)")
            box.click()
            box.fill(name)
            page.keyboard.press("Enter")
            page.get_by_text("3. Result", exact=True).wait_for(state="detached")  # case changed
            page.wait_for_function(SETTLED, polling="raf")
            started = time.perf_counter()
            page.get_by_role("button", name="Predict", exact=True).click()
            page.get_by_text("of the form (").wait_for()
            page.wait_for_function(FINISHED, polling="raf")
            again.append(time.perf_counter() - started)
        browser.close()
    print(
        json.dumps(
            {
                "cold_start_s": {
                    "server_health": round(app.started_s, 2),
                    "predict_page_ready_in_browser": round(ready, 2),
                },
                "submit_to_full_result_s": {
                    "median": round(statistics.median(submits), 2),
                    "max": round(max(submits), 2),
                    "repeats": len(submits),
                },
                "same_session_next_case_s": {
                    "median": round(statistics.median(again), 2),
                    "max": round(max(again), 2),
                    "repeats": len(again),
                },
                "what": "warm server on this machine's CPU, a fresh session each time; bundled "
                "example PH00019 with its DCE-MRI, 4 time points, chosen and drawn; Predict "
                "pressed to the run over and everything drawn: probabilities, guard, overlays, "
                "charts, parts 4 and 5",
                "command": shlex.join(["python", "scripts/benchmark_app.py", *sys.argv[1:]]),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
