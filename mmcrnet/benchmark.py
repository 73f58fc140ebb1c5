"""How fast one case goes through the model on this machine: loading, reading a DICOM series,
the forward pass, a whole prediction, and a whole explanation with each of its steps.

The explanation's steps are timed by the explainer itself (:attr:`Explanation.timings_ms`),
so a change in the pipeline shows up here as it is, never as a re-creation of it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from mmcrnet.case import ClinicalCase
from mmcrnet.checkpoint import InvalidModel
from mmcrnet.cohort import load_cohort
from mmcrnet.errors import CohortProblem, InvalidCohort
from mmcrnet.explain import Explainer
from mmcrnet.io import read_paths
from mmcrnet.predict import Predictor

#: What each timed step covers (the explainer's own step names).
EXPLAIN_STEPS = {
    "predict": "image and sequence embeddings, head, calibration",
    "image_maps": "Grad-CAM + HiResCAM (one backward pass through the image branch), upsampled",
    "integrated_gradients": "IG over the sequence, image embedding held fixed",
    "occlusion": "feature occlusion over the sequence",
    "modalities": "exact Shapley values of image, clinical and genomic data",
    "trajectory": "the prediction with each prefix of the time points",
    "total": "the whole explanation",
}


@dataclass(frozen=True)
class Timing:
    """Milliseconds of one step over the repeats."""

    median: float
    p95: float
    what: str = ""

    @classmethod
    def of(cls, values: list[float], what: str = "") -> Timing:
        return cls(
            round(float(np.median(values)), 2), round(float(np.percentile(values, 95)), 2), what
        )


def _timed(step: Callable[[], object], repeats: int, device: torch.device) -> list[float]:
    """``repeats`` wall times in ms after 3 warm-up calls (CUDA synchronised)."""
    for _ in range(3):
        step()
    out = []
    for _ in range(repeats):
        started = time.perf_counter()
        step()
        if device.type == "cuda":
            torch.cuda.synchronize()
        out.append((time.perf_counter() - started) * 1000)
    return out


def benchmark(
    model_dir: Path | str, examples: Path | str, repeats: int = 50, device: str | None = None
) -> dict[str, Any]:
    """Time the first bundled example (with its DCE-MRI) through ``model_dir``.

    Raises:
        InvalidModel: the model cannot be loaded; InvalidCohort: the examples have no images.
    """
    started = time.perf_counter()
    predictor = Predictor(model_dir, device=device)
    load_ms = (time.perf_counter() - started) * 1000
    cohort = load_cohort(examples)
    case_id = cohort.case_ids[0]
    clinical = ClinicalCase.from_tables(cohort.cases, cohort.timepoints, case_id)
    folder = cohort.image_folder(case_id)
    if folder is None:
        raise InvalidCohort(
            [CohortProblem(str(cohort.root), None, None, f"case {case_id} has no images/ folder")]
        )
    study = read_paths([folder / "mri"], isolate=False)
    prepared = predictor.prepare(clinical, study)
    run = predictor.device
    result: dict[str, Any] = {
        "device": str(predictor.device),
        "threads": torch.get_num_threads(),
        "model_load_ms": round(load_ms, 1),
        "forward_ms": Timing.of(_timed(lambda: predictor.logits(prepared), repeats, run)),
        "predict_case_ms": Timing.of(
            _timed(lambda: predictor.predict(clinical, study), repeats, run),
            "validate + encode + preprocess the image + forward + calibrate",
        ),
        "read_dicom_series_ms": Timing.of(
            _timed(lambda: read_paths([folder / "mri"], isolate=False), max(5, repeats // 5), run)
        ),
        "repeats": repeats,
    }
    try:
        explainer = Explainer(predictor)
    except InvalidModel as exc:
        result["explanation"] = {"skipped": str(exc)}
        return result
    steps: dict[str, list[float]] = {}

    def explain() -> None:
        for step, ms in explainer.explain(clinical, study, prepared=prepared).timings_ms.items():
            steps.setdefault(step, []).append(ms)

    _timed(explain, repeats, run)
    result["explanation_ms"] = {
        step: Timing.of(values[3:], EXPLAIN_STEPS.get(step, step))  # after the warm-up calls
        for step, values in steps.items()
    }
    return result
