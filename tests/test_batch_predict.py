"""Batch prediction over a cohort folder: every case accounted for, the guard's flags kept,
broken files named, exports strict and spreadsheet-safe."""

from __future__ import annotations

import csv
import io
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from mmcrnet.__main__ import main
from mmcrnet.batch_predict import BatchResult, CaseRow, predict_cohort, safe_cell
from mmcrnet.errors import InvalidArgument, InvalidCohort

MODELS = Path(__file__).resolve().parent.parent / "models"
TABLES = ("cases.csv", "timepoints.csv", "outcomes.csv")


@pytest.fixture(scope="module")
def examples_result(examples_dir: Path) -> BatchResult:
    return predict_cohort(MODELS, examples_dir, device="cpu")


def test_every_case_is_predicted_with_what_the_model_read(examples_result: BatchResult) -> None:
    rows = examples_result.rows
    assert len(rows) == 12 and examples_result.unguarded is None
    assert {r.image for r in rows} == {"mri"} and {r.time_points for r in rows} == {4}
    for row in rows:
        assert row.probabilities is not None
        assert sum(row.probabilities) == pytest.approx(1.0, abs=1e-5)
        assert row.outcome in ("pCR", "partial", "none")
    # the bundled examples include one case the guard flags: it stays flagged, not ordinary
    flagged = [r for r in rows if r.status == "flagged"]
    assert len(flagged) == 1 and flagged[0].flags
    summary = examples_result.summary()
    assert summary["predicted"] == 11 and summary["flagged"] == 1
    assert {r.subtype for r in rows} == {"HR+/HER2-", "HER2+", "TNBC"}
    by = {(b["by"], b["group"]): b for b in examples_result.breakdown()}
    assert by[("time points", "4")]["n"] == 11 and by[("time points", "4")]["macro AUC"] > 0.5
    assert by[("subtype", "HER2+")]["note"] == "fewer than 10 cases: no metrics"
    assert summary["metrics"]["n"] == 11 and summary["metrics_with_flagged"]["n"] == 12


def test_the_same_as_one_case_on_the_predict_path(
    examples_result: BatchResult, examples_dir: Path
) -> None:
    from mmcrnet.answer import answer_case

    answer = answer_case(MODELS, examples_dir, "PH00019", device="cpu", steps=8)
    row = next(r for r in examples_result.rows if r.case_id == "PH00019")
    expected = answer.explanation.prediction.probabilities
    assert row.probabilities == pytest.approx(tuple(expected.values()), abs=1e-6)


def test_broken_images_are_named_and_the_other_cases_still_predicted(
    examples_dir: Path, tmp_path: Path
) -> None:
    cohort = tmp_path / "cohort"
    shutil.copytree(examples_dir, cohort)
    # a phase that is not an image: left out and said, as the Predict page would
    (cohort / "images" / "PH00000" / "mri" / "phase2.dcm").write_bytes(b"not a dicom file" * 4)
    # a mammogram that cannot be decoded at all: no prediction, the file named
    (cohort / "images" / "PH00004" / "mri").rename(cohort / "images" / "PH00004" / "old")
    (cohort / "images" / "PH00004" / "mammogram.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"0" * 64)
    result = predict_cohort(MODELS, cohort, device="cpu")
    left = next(r for r in result.rows if r.case_id == "PH00000")
    assert left.left_out and left.left_out[0].startswith("images/PH00000/mri/phase2.dcm: ")
    assert str(tmp_path) not in left.left_out[0]
    broken = next(r for r in result.rows if r.case_id == "PH00004")
    assert broken.status == "not predicted" and broken.probabilities is None
    assert "mammogram.png" in str(broken.problem) and str(tmp_path) not in str(broken.problem)
    assert sum(r.status == "not predicted" for r in result.rows) == 1
    assert result.summary()["with_files_left_out"] == 1
    assert "phase2.dcm" in result.to_csv()


def test_worker_processes_give_the_rows_of_one(examples_dir: Path, tmp_path: Path) -> None:
    cohort = tmp_path / "cohort"  # 36 cases: the 12 examples three times, in two chunks
    shutil.copytree(examples_dir, cohort)
    tables = {name: (cohort / name).read_text().splitlines() for name in TABLES}
    for copy in (1, 2):
        for name, lines in tables.items():
            extra = [line.replace("PH", f"PH{copy}", 1) for line in lines[1:]]
            (cohort / name).write_text(
                "\n".join((cohort / name).read_text().splitlines() + extra) + "\n"
            )
        for folder in sorted((examples_dir / "images").iterdir()):
            shutil.copytree(folder, cohort / "images" / folder.name.replace("PH", f"PH{copy}"))
    one = predict_cohort(MODELS, cohort, device="cpu")
    progress: list[tuple[int, int]] = []
    two = predict_cohort(
        MODELS, cohort, device="cpu", workers=2, progress=lambda d, t: progress.append((d, t))
    )
    assert len(one.rows) == 36 and two.rows == one.rows and two.model == one.model
    assert sorted(progress) == [(25, 36), (36, 36)] or sorted(progress) == [(11, 36), (36, 36)]
    assert two.to_csv() == one.to_csv()


def test_image_choices_are_followed_and_checked(examples_dir: Path) -> None:
    result = predict_cohort(MODELS, examples_dir, device="cpu", image="none")
    assert {r.image for r in result.rows} == {"none"}
    mammogram = predict_cohort(MODELS, examples_dir, device="cpu", image="mammogram")
    assert {r.image for r in mammogram.rows if r.problem is None} <= {"mammogram"}
    with pytest.raises(InvalidArgument, match="image 'ct' is not one of auto, mri"):
        predict_cohort(MODELS, examples_dir, image="ct")


def test_exports_are_strict_json_and_spreadsheet_safe() -> None:
    rows = (
        CaseRow('=HYPERLINK("http://x")', "none", 1, (0.2, 0.3, 0.5), "none"),
        CaseRow("P2", "", 0, None, None, problem="+cmd|' /C calc'!A0"),
    )
    result = BatchResult("m", "abc", "data", "c", rows)
    table = list(csv.reader(io.StringIO(result.to_csv())))
    assert table[0][:4] == ["case_id", "status", "image", "time_points"]
    assert table[1][0] == '\'=HYPERLINK("http://x")' and table[1][7] == "none"
    assert table[2][1] == "not predicted" and table[2][10].startswith("'+cmd")
    assert table[0][11] == "left_out"
    lines = [json.loads(line) for line in result.to_jsonl().splitlines()]
    assert lines[0]["probabilities"] == {"pCR": 0.2, "partial": 0.3, "none": 0.5}
    assert lines[1]["probabilities"] is None and lines[1]["status"] == "not predicted"
    assert result.summary()["metrics"]["n"] == 1
    assert BatchResult.from_jsonl(result.to_jsonl(), result.summary()) == result
    with pytest.raises(ValueError, match="line 1 is not a batch prediction row"):
        BatchResult.from_jsonl("{}", {})
    assert [safe_cell(t) for t in ("-1", "@a", "\tx", "ok")] == ["'-1", "'@a", "'\tx", "ok"]


def test_no_outcomes_no_metrics_and_nan_free_summary() -> None:
    rows = (CaseRow("A", "none", 1, (0.2, 0.3, 0.5), None),)
    summary = BatchResult("m", "abc", "data", "c", rows).summary()
    assert "metrics" not in summary
    one_class = BatchResult(
        "m", "abc", "d", "c", (CaseRow("A", "none", 1, (0.2, 0.3, 0.5), "pCR"),)
    )
    json.dumps(one_class.summary(), allow_nan=False)  # AUC undefined: null, not NaN
    assert one_class.summary()["metrics"]["auc"] is None
    assert np.isfinite(one_class.summary()["metrics"]["accuracy"])


def test_cli_writes_csv_or_json_lines_and_refuses_a_bad_cohort(
    examples_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "predictions.jsonl"
    code = main(["predict", "--cohort", str(examples_dir), "--out", str(out), "--json"])
    assert code == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["format"] == "jsonl" and summary["cases"] == 12
    assert len(out.read_text().splitlines()) == 12
    csv_out = tmp_path / "p.csv"
    assert main(["predict", "--cohort", str(examples_dir), "--out", str(csv_out)]) == 0
    assert "11 predicted, 1 flagged" in capsys.readouterr().out
    assert csv_out.read_text().startswith("case_id,status")
    assert main(["predict", "--cohort", str(tmp_path), "--out", str(tmp_path / "x.csv")]) == 2
    assert "cases.csv" in capsys.readouterr().err
    with pytest.raises(InvalidCohort):
        predict_cohort(MODELS, tmp_path)
