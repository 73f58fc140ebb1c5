"""The Predict page and the hospital's systems in a real browser (Debian's chromium through
Playwright), against an Orthanc started here: choose an example, import the bundled mCODE
bundle, predict, send the DICOM objects to the PACS; prints the times and writes screenshots
at 1400 and 800 px to artifacts/browser/31-* and 32-*.

    .venv/bin/python scripts/exchange_browser.py [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.browser_support import browser_page, environment, shots, wait_idle
from tests.orthanc_support import running_orthanc
from ui.server import ROOT, running_app

BUNDLE = ROOT / "assets" / "fhir" / "PH00001-mcode.json"


def one_round(url: str, screenshots: bool) -> dict[str, float]:
    """One user's path; the seconds of each step."""
    times: dict[str, float] = {}
    with browser_page(url) as page:
        page.get_by_role("combobox", name="Example case (phantom, truth known)").click()
        page.get_by_role("option", name="PH00019").click()
        wait_idle(page)
        started = time.perf_counter()
        box = page.locator('[data-testid="stFileUploader"]').filter(has_text="Import from FHIR")
        box.locator('input[type="file"]').set_input_files(str(BUNDLE))
        page.get_by_text("Imported 14 values").wait_for()
        times["fhir_import"] = time.perf_counter() - started
        wait_idle(page)
        if screenshots:
            page.get_by_text("What was imported").click()
            wait_idle(page)
            shots(page, "31-predict-fhir-import")
        started = time.perf_counter()
        page.get_by_role("button", name="Predict", exact=True).click()
        page.get_by_text("5. Send to the hospital").wait_for()
        page.get_by_role("button", name="Make the DICOM objects").click()
        page.get_by_text("Download the DICOM objects (zip)").wait_for()
        times["predict_to_dicom_part"] = time.perf_counter() - started
        wait_idle(page)
        page.get_by_text("Send to a PACS (DICOMweb STOW-RS)").click()
        wait_idle(page)
        started = time.perf_counter()
        page.get_by_role("button", name="Send to the PACS").click()
        page.get_by_text("stored 3 objects").wait_for()
        times["send_to_stored_line"] = time.perf_counter() - started
        wait_idle(page)
        if screenshots:
            shots(page, "32-predict-dicom-send")
    return times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3, help="rounds (the first also shoots)")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="oncopredict-exchange-"))
    with running_orthanc() as pacs:
        values = {
            "ONCOPREDICT_WORK": str(work),
            "ONCOPREDICT_DB": f"sqlite:///{work / 'cases.sqlite'}",
            "ONCOPREDICT_PACS_URL": f"{pacs}/dicom-web",
        }
        with environment(values), running_app() as app:
            rounds = [one_round(app.url, k == 0) for k in range(args.repeats)]
    summary = {
        step: {
            "median_s": round(statistics.median(r[step] for r in rounds), 2),
            "max_s": round(max(r[step] for r in rounds), 2),
        }
        for step in rounds[0]
    }
    print(json.dumps({"rounds": len(rounds), **summary}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
