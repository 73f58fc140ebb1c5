"""What the evaluation plots are drawn from: ROC curves per class (one-vs-rest), the confusion
matrix and the reliability diagram, computed from outcomes and calibrated probabilities.

Plain numbers only (JSON-safe: no NaN, undefined values are None), so the Model page, the
cohort evaluation and the CLI draw or print the same data.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.metrics import roc_auc_score, roc_curve

from mmcrnet.features import OUTCOMES
from mmcrnet.jsonsafe import finite_or_none
from mmcrnet.metrics import ECE_BINS

#: at most this many points per ROC curve (the curve keeps its corners: thresholds are
#: thinned evenly, the first and last kept)
ROC_POINTS = 200


@dataclass(frozen=True)
class RocCurve:
    """One class against the others. ``auc`` is None when the cases hold only one side."""

    outcome: str
    fpr: tuple[float, ...]
    tpr: tuple[float, ...]
    auc: float | None
    positives: int
    negatives: int


@dataclass(frozen=True)
class ReliabilityBin:
    """Cases whose top probability falls in [low, high): their mean confidence and accuracy."""

    low: float
    high: float
    count: int
    confidence: float | None
    accuracy: float | None


@dataclass(frozen=True)
class Curves:
    """Everything the evaluation plots need, for ``n`` cases.

    Attributes:
        roc: one curve per outcome (OUTCOMES order).
        confusion: (3, 3) counts, rows the true outcome, columns the predicted one.
        reliability: :data:`mmcrnet.metrics.ECE_BINS` equal-width bins of the top probability.
    """

    n: int
    roc: tuple[RocCurve, ...]
    confusion: tuple[tuple[int, ...], ...]
    reliability: tuple[ReliabilityBin, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "n": self.n,
            "outcomes": list(OUTCOMES),
            "roc": [
                {
                    "outcome": c.outcome,
                    "fpr": list(c.fpr),
                    "tpr": list(c.tpr),
                    "auc": c.auc,
                    "positives": c.positives,
                    "negatives": c.negatives,
                }
                for c in self.roc
            ],
            "confusion": [list(row) for row in self.confusion],
            "reliability": [
                {
                    "low": b.low,
                    "high": b.high,
                    "count": b.count,
                    "confidence": b.confidence,
                    "accuracy": b.accuracy,
                }
                for b in self.reliability
            ],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Curves:
        return cls(
            int(data["n"]),
            tuple(
                RocCurve(
                    str(c["outcome"]),
                    tuple(c["fpr"]),
                    tuple(c["tpr"]),
                    c["auc"],
                    int(c["positives"]),
                    int(c["negatives"]),
                )
                for c in data["roc"]
            ),
            tuple(tuple(int(v) for v in row) for row in data["confusion"]),
            tuple(
                ReliabilityBin(b["low"], b["high"], b["count"], b["confidence"], b["accuracy"])
                for b in data["reliability"]
            ),
        )


def _thinned(values: np.ndarray, keep: np.ndarray) -> tuple[float, ...]:
    return tuple(round(float(v), 4) for v in values[keep])


def roc_curves(y: np.ndarray, proba: np.ndarray) -> tuple[RocCurve, ...]:
    """One-vs-rest ROC curve of each outcome for labels ``y`` (N,) and probabilities (N, 3)."""
    curves = []
    for k, outcome in enumerate(OUTCOMES):
        positive = y == k
        n_pos, n_neg = int(positive.sum()), int((~positive).sum())
        if n_pos == 0 or n_neg == 0:
            curves.append(RocCurve(outcome, (), (), None, n_pos, n_neg))
            continue
        fpr, tpr, _ = roc_curve(positive, proba[:, k])
        keep = np.unique(np.linspace(0, len(fpr) - 1, min(len(fpr), ROC_POINTS)).astype(int))
        auc = finite_or_none(roc_auc_score(positive, proba[:, k]))
        curves.append(
            RocCurve(outcome, _thinned(fpr, keep), _thinned(tpr, keep), auc, n_pos, n_neg)
        )
    return tuple(curves)


def confusion_matrix(y: np.ndarray, predicted: np.ndarray) -> tuple[tuple[int, ...], ...]:
    """(3, 3) counts: rows the true outcome, columns the predicted one (OUTCOMES order)."""
    counts = np.zeros((len(OUTCOMES), len(OUTCOMES)), dtype=int)
    np.add.at(counts, (y, predicted), 1)
    return tuple(tuple(int(v) for v in row) for row in counts)


def reliability_bins(
    y: np.ndarray, proba: np.ndarray, bins: int = ECE_BINS
) -> tuple[ReliabilityBin, ...]:
    """Top-label reliability: the bins :func:`mmcrnet.metrics.expected_calibration_error`
    uses, so the diagram and the ECE describe the same thing."""
    confidence = proba.max(axis=1)
    correct = proba.argmax(axis=1) == y
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(confidence, edges[1:-1], right=True), 0, bins - 1)
    out = []
    for b in range(bins):
        chosen = which == b
        count = int(chosen.sum())
        out.append(
            ReliabilityBin(
                round(float(edges[b]), 4),
                round(float(edges[b + 1]), 4),
                count,
                finite_or_none(confidence[chosen].mean()) if count else None,
                finite_or_none(correct[chosen].mean()) if count else None,
            )
        )
    return tuple(out)


def curves(y: np.ndarray, proba: np.ndarray) -> Curves:
    """:class:`Curves` for labels ``y`` (N,) in OUTCOMES order and probabilities (N, 3).

    Raises:
        ValueError: shapes that do not match, or labels outside 0..2 (named).
    """
    y = np.asarray(y)
    proba = np.asarray(proba, dtype=np.float64)
    if proba.ndim != 2 or proba.shape[1] != len(OUTCOMES) or len(y) != len(proba):
        raise ValueError(f"labels {y.shape} and probabilities {proba.shape} do not match")
    if len(y) and (y.min() < 0 or y.max() >= len(OUTCOMES)):
        raise ValueError(f"labels must be 0..{len(OUTCOMES) - 1}, found {y.min()}..{y.max()}")
    return Curves(
        int(len(y)),
        roc_curves(y, proba),
        confusion_matrix(y, proba.argmax(axis=1)),
        reliability_bins(y, proba),
    )
