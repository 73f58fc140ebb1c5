"""How cost grows with the cohort: for phantom cohorts of increasing size, the time to render
them to the disk cache, to train one epoch and to predict every case, and the peak memory.

Each cohort streams from its memory-mapped image cache (:func:`mmcrnet.datasets.phantom_images`)
so that memory stays bounded by a batch (plus what the operating system keeps of the cache
file), whatever the cohort's size; a model that reads no image renders none, so a tabular
cohort of 100 000 cases costs only its tables.
"""

from __future__ import annotations

import math
import resource
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from mmcrnet.batch import main_condition_kinds, predict_logits
from mmcrnet.checkpoint import load_model
from mmcrnet.data import encode_sequences, model_config
from mmcrnet.datasets import phantom_case_set
from mmcrnet.metrics import scores, softmax
from mmcrnet.train import TrainConfig, train_model

Report = Callable[[str], None]


@dataclass(frozen=True)
class ScalePoint:
    """The cost of one cohort size.

    Attributes:
        cases: cohort size; train_cases: the 70 % one epoch trains on.
        variant: the model trained ("mmcrnet" reads images, "lstm-only" none).
        render_s: generating the cohort and rendering its images to the disk cache (0 when
            the cache held them).
        epoch_s: one training epoch (its training steps and its validation pass).
        predict_s: predictions for every case of the cohort, streamed from the cache, scored.
        cache_mb: the image cache on disk.
        peak_rss_mb: this process's peak resident memory so far (memory-mapped cache pages
            it touched included); peak_child_rss_mb: the largest rendering worker's.
    """

    cases: int
    train_cases: int
    variant: str
    render_s: float
    epoch_s: float
    predict_s: float
    cache_mb: float
    peak_rss_mb: float
    peak_child_rss_mb: float

    @property
    def predict_cases_per_s(self) -> float:
        return self.cases / self.predict_s if self.predict_s else math.inf


def _peak_mb(who: int) -> float:
    return round(resource.getrusage(who).ru_maxrss / 1024, 1)  # ru_maxrss is KiB on Linux


def measure(
    cases: int,
    seed: int,
    variant: str,
    cache_root: Path,
    workers: int | None = None,
    loader_workers: int = 0,
    device: str = "cpu",
    report: Report | None = None,
) -> ScalePoint:
    """Render (or reuse), train one epoch of and predict a phantom cohort of ``cases``."""
    say = report or (lambda _: None)
    config = model_config(variant)
    cache = cache_root / f"phantom-{cases}-{seed}"
    started = time.perf_counter()
    say(f"{cases} cases: rendering to {cache}" if config.uses_image else f"{cases} cases")
    case_set = phantom_case_set(cases, seed, cache=cache, workers=workers, images=config.uses_image)
    render_s = time.perf_counter() - started
    with tempfile.TemporaryDirectory(prefix="oncopredict-scale-") as scratch:
        say(f"{cases} cases: one training epoch")
        card = train_model(
            case_set,
            Path(scratch),
            TrainConfig(variant=variant, seed=seed, epochs=1, loader_workers=loader_workers),
            device=device,
        )
        model, _ = load_model(Path(scratch), device=device)
    say(f"{cases} cases: predicting every case")
    started = time.perf_counter()
    sequences = encode_sequences(case_set.cases, case_set.timepoints, config.groups)
    logits = predict_logits(
        model,
        case_set,
        sequences.values,
        sequences.lengths,
        main_condition_kinds(config, case_set.n),
        device=device,
    )
    scores(case_set.outcomes, softmax(logits))
    predict_s = time.perf_counter() - started
    on_disk = sum(f.stat().st_size for f in cache.glob("*.npy")) if cache.is_dir() else 0
    return ScalePoint(
        cases=cases,
        train_cases=int(card["split"]["train"]),
        variant=variant,
        render_s=round(render_s, 1),
        epoch_s=round(float(card["history"][0]["seconds"]), 1),
        predict_s=round(predict_s, 2),
        cache_mb=round(on_disk / 2**20, 1),
        peak_rss_mb=_peak_mb(resource.RUSAGE_SELF),
        peak_child_rss_mb=_peak_mb(resource.RUSAGE_CHILDREN),
    )


def growth(points: Sequence[ScalePoint], field: str) -> dict[str, float]:
    """How ``field`` (seconds) grows with the cases: ``per_1000`` (least-squares seconds per
    1 000 cases) and ``exponent`` (the slope of log seconds on log cases: 1 is linear)."""
    n = np.array([p.cases for p in points], dtype=float)
    t = np.array([getattr(p, field) for p in points], dtype=float)
    if len(points) < 2 or (t <= 0).any():
        return {"per_1000": math.nan, "exponent": math.nan}
    per_case = np.polyfit(n, t, 1)[0]
    exponent = np.polyfit(np.log(n), np.log(t), 1)[0]
    return {"per_1000": round(float(per_case) * 1000, 2), "exponent": round(float(exponent), 2)}


def scale(
    sizes: Sequence[int],
    seed: int,
    cache_root: Path,
    tabular: Sequence[int] = (),
    workers: int | None = None,
    loader_workers: int = 0,
    device: str = "cpu",
    report: Report | None = None,
) -> dict[str, Any]:
    """:func:`measure` MM-CRNet at each of ``sizes`` (smallest first) and the image-free
    lstm-only model at each of ``tabular``; the points and their growth."""
    imaging = [
        measure(n, seed, "mmcrnet", cache_root, workers, loader_workers, device, report)
        for n in sorted(sizes)
    ]
    tabular_points = [
        measure(n, seed, "lstm-only", cache_root, workers, loader_workers, device, report)
        for n in sorted(tabular)
    ]
    return {
        "device": device,
        "threads": torch.get_num_threads(),
        "loader_workers": loader_workers,
        "imaging": [_row(p) for p in imaging],
        "tabular": [_row(p) for p in tabular_points],
        "growth": {field: growth(imaging, field) for field in ("render_s", "epoch_s", "predict_s")},
    }


def _row(point: ScalePoint) -> dict[str, Any]:
    """A point as JSON, with its prediction rate (3 significant digits)."""
    return asdict(point) | {"predict_cases_per_s": float(f"{point.predict_cases_per_s:.3g}")}


def table(result: dict[str, Any]) -> str:
    """The points as a Markdown table."""
    lines = [
        "| cases | model | render (s) | epoch (s) | predict all (s) | cases/s | cache (MB) "
        "| peak RSS (MB) |",
        "|---:|---|---:|---:|---:|---:|---:|---:|",
    ]
    for p in [*result["imaging"], *result["tabular"]]:
        lines.append(
            f"| {p['cases']:,} | {p['variant']} | {p['render_s']} | {p['epoch_s']} | "
            f"{p['predict_s']} | {p['predict_cases_per_s']} | {p['cache_mb']} | "
            f"{max(p['peak_rss_mb'], p['peak_child_rss_mb'])} |"
        )
    growth_lines = [
        f"- {field}: {g['per_1000']} s per 1 000 cases, exponent {g['exponent']}"
        for field, g in result["growth"].items()
    ]
    return "\n".join([*lines, "", "Growth with the cases (MM-CRNet):", *growth_lines])


__all__ = ["ScalePoint", "growth", "measure", "scale", "table"]
