"""Load the app with concurrent users in a real browser (Debian's chromium via Playwright).

    .venv/bin/python scripts/load_test.py [--sessions 20] [--after-close-s 130]

Starts the app as it is served (``ui.server.running_app``: ``python -m ui.serve``), warms it
with one prediction, then opens ``--sessions`` users at once (one chromium, a browser context
each): each loads a bundled example (the examples in turn), and when all are loaded all press
Predict together and wait for the full result (the run over, every chart and image drawn). A user
whose result does not come, or whose page shows an error, counts as an error.

Prints JSON: sessions, errors, throughput (results per second, from the first click to the last
result), latency from the Predict click to the result drawn (p50, p95, max), the server's RSS
(VmRSS of its process, sampled every 0.2 s) at start, warm, peak while the users were on, and
after they closed (at once, and after ``--after-close-s``: Streamlit drops a disconnected
session's state after ``server.disconnectedSessionTTL``, 120 s by default), its VmHWM, and the
command. A benchmark, not a test: it asserts nothing about time.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import re
import shlex
import statistics
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from playwright.async_api import Browser, Page, async_playwright
from playwright.async_api import TimeoutError as PlaywrightTimeout

from ui.server import CHROMIUM, CHROMIUM_ARGS, ROOT, RunningApp, running_app

CASES = ROOT / "assets" / "examples" / "cases.csv"
#: Shown by ui.errors.report_bug (a fault of ours) and by the page's refusals.
ERROR_TEXTS = ("Something went wrong on our side", "Cannot predict")
#: True once every plotly chart on the page has drawn and every image has loaded.
DRAWN = """() =>
    [...document.querySelectorAll('.js-plotly-plot')].every((c) => c.querySelector('.main-svg'))
    && [...document.querySelectorAll('[data-testid="stImage"] img')].every(
        (i) => i.complete && i.naturalWidth > 0)"""
SHOTS = ROOT / "artifacts" / "load"


@dataclass(frozen=True)
class SessionOutcome:
    case_id: str
    latency_s: float | None  # Predict click -> full result; None when it did not come
    finished_at: float | None  # perf_counter() when the result was drawn
    error: str | None


class MemorySampler:
    """Samples a process's VmRSS (MiB) from /proc every ``interval_s`` in a thread."""

    def __init__(self, pid: int, interval_s: float = 0.2) -> None:
        self.pid = pid
        self.interval_s = interval_s
        self.samples: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def status_mb(self, field: str) -> float:
        """``field`` (``VmRSS``, ``VmHWM``) of /proc/<pid>/status in MiB."""
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith(f"{field}:"):
                return round(int(line.split()[1]) / 1024, 1)  # kB
        raise ValueError(f"/proc/{self.pid}/status has no {field}")

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            self.samples.append(self.status_mb("VmRSS"))

    def __enter__(self) -> MemorySampler:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()

    def peak_since(self, index: int) -> float:
        return max(self.samples[index:], default=self.status_mb("VmRSS"))


async def _wait_idle(page: Page) -> None:
    """Until the run the last action started is over (the status widget shows while it runs)."""
    status = page.locator('[data-testid="stStatusWidget"]')
    try:
        await status.wait_for(state="attached", timeout=1_500)
    except PlaywrightTimeout:
        pass  # the run was over before the widget showed
    await status.wait_for(state="detached")


async def _open_with_example(browser: Browser, app: RunningApp, case_id: str) -> Page:
    """A new user (own context) with the example ``case_id`` loaded and shown."""
    context = await browser.new_context(viewport={"width": 1400, "height": 1000})
    page = await context.new_page()
    page.set_default_timeout(600_000)
    await page.goto(app.url)
    await page.get_by_role("button", name="Predict", exact=True).wait_for()
    await page.get_by_role("combobox", name="Example case (phantom, truth known)").click()
    await page.keyboard.type(case_id)
    await page.get_by_role("option", name=case_id, exact=True).click()
    await page.get_by_text("What the model will read").wait_for()
    await _wait_idle(page)
    age = page.get_by_label("Age (years)", exact=True)
    await page.wait_for_function("(el) => el.value !== ''", arg=await age.element_handle())
    return page


async def _predict(page: Page) -> tuple[float, float, str | None]:
    """Press Predict and wait for the full result (the run over, every chart drawn, every image
    loaded) or an error line; returns (latency s, finish time, the error line or None)."""
    started = time.perf_counter()
    await page.get_by_role("button", name="Predict", exact=True).click()
    result = page.get_by_text("of the form (")
    shown_error = page.get_by_text(re.compile("^(" + "|".join(ERROR_TEXTS) + ")"))
    await result.or_(shown_error).first.wait_for()
    await _wait_idle(page)  # the run is over: all of the result was sent
    if not await shown_error.count():
        await page.wait_for_function(DRAWN)
    finished = time.perf_counter()
    return finished - started, finished, await _error_line(page)


async def _error_line(page: Page) -> str | None:
    text = await page.locator('[data-testid="stMain"]').inner_text()
    line = next((line for line in text.splitlines() if line.startswith(ERROR_TEXTS)), None)
    return None if line is None else line.split(". ")[0]  # e.g. "... (error id 1a2b3c4d)"


async def _user(
    browser: Browser, app: RunningApp, index: int, case_id: str, ready: asyncio.Barrier
) -> SessionOutcome:
    try:
        page = await _open_with_example(browser, app, case_id)
    finally:
        await ready.wait()  # all press Predict together, also when one failed to load
    error: str | None
    try:
        latency, finished, error = await _predict(page)
    except PlaywrightTimeout as exc:
        latency, finished, error = 0.0, 0.0, str(exc).splitlines()[0]
    if error is not None:  # what the user saw, for the report
        SHOTS.mkdir(parents=True, exist_ok=True)
        await page.screenshot(path=str(SHOTS / f"{index:02d}-{case_id}.png"))
    await page.context.close()
    if error is not None:
        return SessionOutcome(case_id, None, None, error)
    return SessionOutcome(case_id, latency, finished, None)


async def _load(
    app: RunningApp, sessions: int, case_ids: list[str]
) -> tuple[list[SessionOutcome | BaseException], float]:
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        ready = asyncio.Barrier(sessions + 1)
        users = [
            asyncio.create_task(_user(browser, app, i, case_ids[i % len(case_ids)], ready))
            for i in range(sessions)
        ]
        await ready.wait()
        clicked = time.perf_counter()
        outcomes = await asyncio.gather(*users, return_exceptions=True)
        await browser.close()
    return list(outcomes), clicked


async def _warm(app: RunningApp, case_id: str) -> None:
    """One prediction first, so the model and the caches are loaded before the users come."""
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = await _open_with_example(browser, app, case_id)
        await _predict(page)
        await browser.close()


def _percentile(values: list[float], q: float) -> float | None:
    """The ``q``-th percentile (nearest rank) of ``values``; None when there are none."""
    if not values:
        return None
    ranked = sorted(values)
    return round(ranked[max(0, min(len(ranked) - 1, round(q / 100 * len(ranked)) - 1))], 2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=20, help="concurrent users (20)")
    parser.add_argument(
        "--after-close-s",
        type=float,
        default=130.0,
        help="seconds after the users closed for the last RSS reading (130: past the 120 s "
        "disconnectedSessionTTL)",
    )
    args = parser.parse_args()
    with CASES.open(newline="") as file:
        case_ids = [row["case_id"] for row in csv.DictReader(file)]
    with running_app() as app, MemorySampler(app.pid) as memory:
        at_start = memory.status_mb("VmRSS")
        asyncio.run(_warm(app, case_ids[0]))
        time.sleep(1.0)
        warm = memory.status_mb("VmRSS")
        first_sample = len(memory.samples)
        outcomes, clicked = asyncio.run(_load(app, args.sessions, case_ids))
        peak = memory.peak_since(first_sample)
        time.sleep(5.0)
        after_close = memory.status_mb("VmRSS")
        time.sleep(max(0.0, args.after_close_s - 5.0))
        after_ttl = memory.status_mb("VmRSS")
        high_water = memory.status_mb("VmHWM")
    done = [o for o in outcomes if isinstance(o, SessionOutcome)]
    errors = [f"{type(o).__name__}: {o}" for o in outcomes if not isinstance(o, SessionOutcome)]
    errors += [f"{o.case_id}: {o.error}" for o in done if o.error is not None]
    ok = [o for o in done if o.error is None]
    latencies = [o.latency_s for o in ok if o.latency_s is not None]
    last = max((o.finished_at for o in ok if o.finished_at is not None), default=clicked)
    print(
        json.dumps(
            {
                "sessions": args.sessions,
                "results": len(ok),
                "errors": len(errors),
                "error_lines": errors[:10],
                "throughput_per_s": round(len(ok) / (last - clicked), 3) if ok else 0.0,
                "wall_s": round(last - clicked, 2),
                "latency_s": {
                    "p50": _percentile(latencies, 50),
                    "p95": _percentile(latencies, 95),
                    "max": round(max(latencies), 2) if latencies else None,
                    "mean": round(statistics.mean(latencies), 2) if latencies else None,
                },
                "server_rss_mb": {
                    "at_start": at_start,
                    "warm_one_prediction": warm,
                    "peak_with_users": peak,
                    "after_close_5s": after_close,
                    f"after_close_{args.after_close_s:g}s": after_ttl,
                    "vm_hwm": high_water,
                },
                "what": "warm server (python -m ui.serve) on this machine's CPU; each user a "
                "browser context loading a bundled example (in turn, with its DCE-MRI), all "
                "pressing Predict at once; latency = click to the run over and every chart and "
                "image of the result drawn",
                "command": shlex.join(["python", "scripts/load_test.py", *sys.argv[1:]]),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
