from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from mmcrnet.datasets import subset
from mmcrnet.evaluate import evaluate, image_summaries


def test_image_summaries_read_enhancement_and_washout(phantom_cases) -> None:
    summaries = image_summaries(phantom_cases.images.mri[:60].astype(np.float32))
    assert summaries.shape == (60, 12) and np.isfinite(summaries).all()
    washout = phantom_cases.truth["washout"].to_numpy()[:60]
    assert np.corrcoef(summaries[:, 6], washout)[0, 1] < -0.5  # late/early falls with washout


def test_report_has_every_table_and_breakdown(tiny_model_dir: Path, phantom_cases) -> None:
    test = subset(phantom_cases, np.arange(200, 300))
    report = evaluate(tiny_model_dir, test, subset(phantom_cases, np.arange(200))).to_dict()
    assert [r["name"] for r in report["table2"]] == [
        "mmcrnet",
        "cnn-only",
        "lstm-only",
        "random-forest",
    ]
    assert [r["name"] for r in report["table4"]] == [
        "mmcrnet",
        "no-imaging",
        "no-clinical",
        "no-genomic",
    ]
    assert report["table2"][1]["metrics"] is None and "not trained" in report["table2"][1]["note"]
    assert report["table2"][3]["metrics"]["auc"] > 0.7  # the forest is fitted here
    names = [r["name"] for r in report["references"]]
    assert names == ["oracle", "latent reference"]
    assert report["references"][0]["metrics"]["auc"] > 0.9
    assert set(report["by_time_points"]) == {"1", "2", "3", "4"}
    assert set(report["by_image"]) == {"mri", "mammogram", "none"}
    assert {"before", "after", "temperature"} <= set(report["calibration"])
    curves = report["curves"]
    assert curves["n"] == 100 and sum(map(sum, curves["confusion"])) == 100
    assert [c["outcome"] for c in curves["roc"]] == ["pCR", "partial", "none"]
    json.dumps(report, allow_nan=False)


def test_a_small_cohort_is_evaluated_without_rebuilding_a_training_cohort(
    examples_dir: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """12 cases: subgroups too small for metrics say so; nothing written unless asked; the
    Random Forest says how to get it; no training cohort is rendered."""
    from mmcrnet.__main__ import main

    models = Path(__file__).resolve().parent.parent / "models"
    before = (models / "evaluation.json").read_bytes()
    assert main(["evaluate", "--cohort-test", str(examples_dir), "--model", str(models)]) == 0
    captured = capsys.readouterr()
    assert "rebuilding the training cohort" not in captured.err
    assert "HR+/HER2-: n 5 (fewer than 10 cases: no metrics)" in captured.out
    assert "--references" in captured.out and "written to" not in captured.out
    assert (models / "evaluation.json").read_bytes() == before
    out = tmp_path / "e.json"
    assert main(["evaluate", "--cohort-test", str(examples_dir), "--out", str(out)]) == 0
    json.loads(out.read_text())  # strict: parse_constant would see NaN
