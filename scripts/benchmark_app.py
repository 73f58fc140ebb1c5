"""Time the app in a real browser (Debian's chromium via Playwright) on this machine.

    .venv/bin/python scripts/benchmark_app.py [--repeats 5]

Prints JSON: cold start (launch to /_stcore/health, and to the Predict page ready in the
browser) and, on the warm server, submit -> full result rendered (the last chart drawn) for a
bundled example with its DCE-MRI, median and max over the repeats.
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
            started = time.perf_counter()
            page.get_by_role("button", name="Predict", exact=True).click()
            page.get_by_text("of the form (").wait_for()
            page.locator(".js-plotly-plot").nth(3).wait_for()  # the last chart of the result
            page.locator('[data-testid="stImage"] img').nth(5).wait_for()
            if attempt:
                submits.append(time.perf_counter() - started)
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
                "what": "warm server on this machine's CPU; bundled example PH00019 with its "
                "DCE-MRI, 4 time points; result = probabilities, guard, 3 overlays, 4 charts",
                "command": shlex.join(["python", "scripts/benchmark_app.py", *sys.argv[1:]]),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
