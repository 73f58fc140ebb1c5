"""The PDF report: opened with pypdf, its text and images checked, its pages rendered to PNG
with pdftoppm (artifacts/pdf/, for looking at); the CLI writes it."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from pypdf import PdfReader

from mmcrnet import DISCLAIMER
from mmcrnet.answer import answer_case
from mmcrnet.pdf_report import build_pdf

ROOT = Path(__file__).resolve().parent.parent
SHOTS = ROOT / "artifacts" / "pdf"
VISITS = [
    {
        "visit": 1,
        "date": "2026-11-01",
        "time_points": "T0",
        "pCR": 0.2,
        "partial": 0.6,
        "none": 0.2,
        "predicted": "partial",
        "model": "MM-CRNet (mmcrnet) (de6ed2d7981c)",
    },
    {
        "visit": 2,
        "date": "2026-11-22",
        "time_points": "T0, T1",
        "pCR": 0.45,
        "partial": 0.5,
        "none": 0.05,
        "predicted": "partial",
        "model": "MM-CRNet (mmcrnet) (de6ed2d7981c)",
    },
]


def _build(answer, left_out: list[str], label: str, visits: list | tuple = ()):
    return build_pdf(
        answer.explanation,
        answer.clinical.static,
        answer.clinical.timepoints,
        answer.study,
        answer.guard,
        left_out,
        label,
        visits,
    )


@pytest.fixture(scope="module")
def answer():
    return answer_case(ROOT / "models", ROOT / "assets" / "examples", "PH00001", image="mri")


@pytest.fixture(scope="module")
def pdf(answer, tmp_path_factory: pytest.TempPathFactory) -> Path:
    report = _build(answer, ["notes.txt: not an image"], "breast-017", VISITS)
    path = tmp_path_factory.mktemp("pdf") / "report.pdf"
    path.write_bytes(report.data)
    return path


def test_the_report_says_what_a_clinician_takes_away(pdf: Path, answer) -> None:
    reader = PdfReader(pdf)
    pages = [page.extract_text() for page in reader.pages]
    text = " ".join(pages)
    assert all(DISCLAIMER in page for page in pages)  # on every page
    prediction = answer.explanation.prediction
    for needed in (
        "breast-017",
        prediction.weights_sha256,
        prediction.training_data,
        "MM-CRNet",
        "calibrated probability",
        ": not an image",  # the file named by a pseudonym ("file 4"), never its name
        "Ki-67 index",
        "The prediction across visits",
        "Colour bar",
    ):
        assert needed in text.replace("\n", " "), needed
    images = sum(len(page.images) for page in reader.pages)
    assert images >= 8  # three phases, the colour bar, four charts


def test_the_pages_render_to_png(pdf: Path) -> None:
    pdftoppm = shutil.which("pdftoppm")
    if pdftoppm is None:
        pytest.skip("pdftoppm is not installed (apt-get install poppler-utils)")
    SHOTS.mkdir(parents=True, exist_ok=True)
    for old in SHOTS.glob("report-*.png"):
        old.unlink()
    subprocess.run([pdftoppm, "-r", "70", "-png", str(pdf), str(SHOTS / "report")], check=True)
    rendered = sorted(SHOTS.glob("report-*.png"))
    assert len(rendered) == len(PdfReader(pdf).pages) and all(
        p.stat().st_size > 10_000 for p in rendered
    )


def test_the_cli_writes_it_and_names_a_bad_path(tmp_path: Path) -> None:
    out = tmp_path / "r.pdf"
    done = subprocess.run(
        [sys.executable, "-m", "mmcrnet", "report", "PH00004", "--out", str(out), "--label", "c1"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["pages"] >= 2 and out.read_bytes().startswith(b"%PDF")
    bad = subprocess.run(
        [sys.executable, "-m", "mmcrnet", "report", "PH00004", "--out", str(tmp_path / "r.txt")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert bad.returncode == 2 and "does not end in .pdf" in bad.stderr


def test_a_label_cannot_reach_out_and_names_never_reach_the_report(answer) -> None:
    label = "a</style><link rel=attachment href=file:///etc/passwd>"
    report = _build(answer, ["/srv/Doe_Jane/IM1.dcm: not an image"], label)
    reader = PdfReader(io.BytesIO(report.data))
    assert not reader.attachments  # nothing fetched or attached
    text = " ".join(page.extract_text() for page in reader.pages)
    assert "Doe_Jane" not in text and "/srv" not in text  # the label is shown as text only
    assert "file 4: not an image" in text or "file 1: not an image" in text
