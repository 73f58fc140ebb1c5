"""Timings of the teaching pages' engine work (``python -m mmcrnet teach bench``): opening a case
with its truth, and each "what if" curve, with the Predict page's own read-and-explain of the
same cases timed in the same run as the peer."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np

from mmcrnet.cohort import load_cohort
from mmcrnet.errors import InvalidArgument
from mmcrnet.explain.explanation import Explainer
from mmcrnet.guard import Guard
from mmcrnet.predict import Predictor
from mmcrnet.teach.case import open_case, read_case
from mmcrnet.teach.truth import has_truth
from mmcrnet.teach.whatif import WHAT_IF_INPUTS, sweep


def _figures(seconds: list[float]) -> dict[str, float]:
    values = np.array(seconds) * 1000.0
    return {
        "median_ms": round(float(np.median(values)), 1),
        "p95_ms": round(float(np.percentile(values, 95)), 1),
        "runs": len(values),
    }


def run_bench(
    model_dir: Path, cohort_dir: Path, repeats: int = 1, device: str | None = None
) -> dict[str, Any]:
    """Time every case of a phantom cohort ``repeats`` times.

    Raises:
        InvalidArgument: the cohort has no truth.
    """
    cohort = load_cohort(cohort_dir)
    if not has_truth(cohort):
        raise InvalidArgument(f"{cohort_dir} has no truth/: the teaching pages need a phantom")
    explainer = Explainer(Predictor(model_dir, device=device))
    guard = Guard.load(model_dir)
    ids = [c for c in cohort.case_ids if cohort.image_paths(c, "mri")]
    open_case(explainer, guard, cohort, ids[0])  # warm-up: first-call costs are not a page's
    peer, opened = [], []
    curves: dict[str, list[float]] = {item.name: [] for item in WHAT_IF_INPUTS}
    for _ in range(repeats):
        for case_id in ids:
            started = time.perf_counter()
            clinical, study = read_case(cohort, case_id, "mri")
            prepared = explainer.predictor.prepare(clinical, study)
            guard.check(study, prepared, clinical, explainer.predictor.model)
            explainer.explain(clinical, study, prepared=prepared)
            peer.append(time.perf_counter() - started)
            started = time.perf_counter()
            case = open_case(explainer, guard, cohort, case_id)
            opened.append(time.perf_counter() - started)
            for item in WHAT_IF_INPUTS:
                started = time.perf_counter()
                sweep(explainer, guard, case, item)
                curves[item.name].append(time.perf_counter() - started)
    opening = _figures(opened)
    predict = _figures(peer)
    return {
        "device": explainer.predictor.device.type,
        "cohort": str(cohort_dir),
        "cases": len(ids),
        "open_case": opening,
        "peer_predict_and_explain": predict,
        "open_case_over_peer": round(opening["median_ms"] / predict["median_ms"], 2),
        "what_if": {
            name: {
                **_figures(values),
                "over_peer": round(float(np.median(values)) * 1000.0 / predict["median_ms"], 2),
            }
            for name, values in curves.items()
        },
    }
