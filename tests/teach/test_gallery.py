"""The gallery: a teaching cohort generated with the model's answers, as filtered cards."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from mmcrnet import load_cohort
from mmcrnet.errors import InvalidArgument
from mmcrnet.teach.gallery import (
    cards,
    folder_name,
    load_predictions,
    select,
    teaching_cohorts,
)

ROOT = Path(__file__).resolve().parent.parent.parent


def test_a_teaching_cohort_is_generated_answered_and_listed(tmp_path: Path) -> None:
    out = tmp_path / "teaching" / folder_name(3, 21)
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "mmcrnet",
            "teach",
            "prepare",
            "--n",
            "3",
            "--seed",
            "21",
            "--out",
            str(out),
            "--model",
            str(ROOT / "models"),
            "--progress-file",
            str(tmp_path / "progress.json"),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads((tmp_path / "progress.json").read_text())["stage"] == "done"
    assert teaching_cohorts(tmp_path / "teaching") == [out]
    card = json.loads((ROOT / "models" / "model.json").read_text())
    batch = load_predictions(out, card["weights"]["sha256"])
    assert batch is not None and len(batch.rows) == 3
    items = cards(load_cohort(out), batch)
    assert [c.case_id for c in items] == ["PH00000", "PH00001", "PH00002"]
    assert all(c.outcome in ("pCR", "partial", "none") for c in items)
    assert all(c.right == (c.predicted == c.outcome) for c in items if c.status == "predicted")
    assert load_predictions(out, "0" * 64) is None  # another model has not answered


def test_filters_pass_what_they_name(examples) -> None:
    items = cards(examples, None)
    assert len(items) == 12 and all(c.verdict == "not judged" for c in items)
    her2 = select(items, subtypes=["HER2+"])
    assert {c.subtype for c in her2} == {"HER2+"} and 0 < len(her2) < 12
    assert {c.outcome for c in select(items, outcomes=["none"])} == {"none"}
    assert select(items, correctness="right") == []
    with pytest.raises(InvalidArgument, match="outcome 'cured' is not one of"):
        select(items, outcomes=["cured"])


def test_bad_sizes_are_named_before_any_work(tmp_path: Path) -> None:
    with pytest.raises(InvalidArgument, match="n must be from 1 to 2000 cases, got 0"):
        folder_name(0, 1)
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "mmcrnet",
            "teach",
            "prepare",
            "--n",
            "5000",
            "--seed",
            "1",
            "--out",
            str(tmp_path / "x"),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 2 and "got 5000" in done.stderr and not (tmp_path / "x").exists()
