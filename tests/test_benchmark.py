"""The benchmark times the explainer through its own step timings."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from mmcrnet.benchmark import EXPLAIN_STEPS, Timing, benchmark


@pytest.fixture(scope="module")
def result(tiny_model_dir: Path, examples_dir: Path) -> dict[str, Any]:
    return benchmark(tiny_model_dir, examples_dir, repeats=2, device="cpu", throughput_sizes=(4,))


def test_benchmark_reports_every_step_of_the_explainer(result: dict[str, Any]) -> None:
    assert isinstance(result["forward_ms"], Timing) and result["forward_ms"].median > 0
    steps = result["explanation_ms"]
    assert set(steps) == set(EXPLAIN_STEPS)  # the explainer's own steps, none re-created here
    assert steps["total"].median >= steps["image_maps"].median

    throughput = result["batch_throughput"]["4"]
    assert throughput["cases_per_s"] > 0 and throughput["max_abs_logit_difference"] < 1e-4
    ig = result["peers"]["integrated_gradients"]
    assert ig["max_abs_difference"] < 1e-5 and ig["steps"] == 64  # the same attributions
    cam = result["peers"]["gradcam"]
    assert "skipped" in cam or cam["pearson_r"] >= 0.999


def test_batch_evaluation_predicts_a_cohort_folder_end_to_end(tiny_model_dir: Path) -> None:
    from mmcrnet.benchmark import batch_evaluation

    batch = batch_evaluation(tiny_model_dir, 6, device="cpu")
    assert batch["cases"] == 6 and batch["files"] >= 18  # three phases a case at least
    assert sum(batch["predicted"].values()) == 6 and batch["seconds"] > 0


def test_summary_names_each_figure_with_its_target(result: dict[str, Any]) -> None:
    from mmcrnet.benchmark import summary

    text = summary({**result, "app": {"skipped": "no browser here"}})
    for words in (
        "model load",
        "one-case prediction",
        "batch    4 throughput",
        "whole explanation",
    ):
        assert words in text
    assert "target >= 50x" in text and "app" in text and "no browser here" in text
