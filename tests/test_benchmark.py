"""The benchmark times the explainer through its own step timings."""

from __future__ import annotations

from pathlib import Path

from mmcrnet.benchmark import EXPLAIN_STEPS, Timing, benchmark


def test_benchmark_reports_every_step_of_the_explainer(
    tiny_model_dir: Path, examples_dir: Path
) -> None:
    result = benchmark(tiny_model_dir, examples_dir, repeats=2, device="cpu")
    assert isinstance(result["forward_ms"], Timing) and result["forward_ms"].median > 0
    steps = result["explanation_ms"]
    assert set(steps) == set(EXPLAIN_STEPS)  # the explainer's own steps, none re-created here
    assert steps["total"].median >= steps["image_maps"].median
