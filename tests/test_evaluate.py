from __future__ import annotations

from pathlib import Path

import numpy as np

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
