"""Classification and calibration metrics over the three outcome classes."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from scipy.optimize import minimize_scalar
from sklearn.metrics import precision_recall_fscore_support, roc_auc_score

from mmcrnet.features import OUTCOMES
from mmcrnet.jsonsafe import finite_or_none

N_CLASSES = len(OUTCOMES)
ECE_BINS = 15


@dataclass(frozen=True)
class Scores:
    """Metrics of one model on one set of cases (floats; NaN when undefined)."""

    n: int
    accuracy: float
    precision: float  # macro
    recall: float  # macro
    f1: float  # macro
    auc: float  # macro one-vs-rest
    ece: float  # top-label expected calibration error, 15 equal-width bins
    brier: float  # multi-class Brier score (sum over classes, mean over cases)
    calibration_slope: float  # pooled one-vs-rest logistic slope of outcome on logit(p)
    nll: float

    def to_dict(self) -> dict[str, float | None]:
        """Rounded to 4 decimals; None where a metric is undefined (valid JSON)."""
        return {
            k: (finite_or_none(v) if isinstance(v, float) else v) for k, v in asdict(self).items()
        }


def softmax(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    z = logits / temperature
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def expected_calibration_error(y: np.ndarray, proba: np.ndarray, bins: int = ECE_BINS) -> float:
    confidence = proba.max(axis=1)
    correct = (proba.argmax(axis=1) == y).astype(float)
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(confidence, edges[1:-1], right=True), 0, bins - 1)
    ece = 0.0
    for b in range(bins):
        in_bin = which == b
        if in_bin.any():
            ece += in_bin.mean() * abs(correct[in_bin].mean() - confidence[in_bin].mean())
    return float(ece)


def calibration_slope(y: np.ndarray, proba: np.ndarray) -> float:
    """Slope b of logit P(y = k) = a + b logit(p_k), pooled over the classes (1 = calibrated,
    < 1 overconfident)."""
    p = np.clip(proba, 1e-6, 1 - 1e-6).ravel()
    x = np.log(p / (1 - p))
    target = (y[:, None] == np.arange(proba.shape[1])[None, :]).astype(float).ravel()

    def nll(params: np.ndarray) -> float:
        z = params[0] + params[1] * x
        return float(np.sum(np.logaddexp(0, z) - target * z))

    from scipy.optimize import minimize

    return float(minimize(nll, np.array([0.0, 1.0]), method="BFGS").x[1])


def scores(y: np.ndarray, proba: np.ndarray) -> Scores:
    """All metrics for labels y (N,) and probabilities (N, 3)."""
    y = np.asarray(y)
    proba = np.asarray(proba, dtype=np.float64)
    predicted = proba.argmax(axis=1)
    precision, recall, f1, _ = precision_recall_fscore_support(
        y, predicted, labels=np.arange(N_CLASSES), average="macro", zero_division=0
    )
    present = np.unique(y)
    if len(present) == N_CLASSES:
        auc = float(
            roc_auc_score(y, proba, multi_class="ovr", average="macro", labels=np.arange(N_CLASSES))
        )
    else:
        auc = float("nan")
    onehot = np.eye(N_CLASSES)[y]
    return Scores(
        n=int(len(y)),
        accuracy=float(np.mean(predicted == y)),
        precision=float(precision),
        recall=float(recall),
        f1=float(f1),
        auc=auc,
        ece=expected_calibration_error(y, proba),
        brier=float(np.mean(np.sum((proba - onehot) ** 2, axis=1))),
        calibration_slope=calibration_slope(y, proba) if len(y) > 10 else float("nan"),
        nll=float(-np.mean(np.log(np.clip(proba[np.arange(len(y)), y], 1e-12, 1.0)))),
    )


def fit_temperature(logits: np.ndarray, y: np.ndarray) -> float:
    """Temperature T > 0 minimising the NLL of softmax(logits / T) (Guo et al. 2017)."""

    def nll(log_t: float) -> float:
        p = softmax(logits, float(np.exp(log_t)))
        return float(-np.mean(np.log(np.clip(p[np.arange(len(y)), y], 1e-12, 1.0))))

    result = minimize_scalar(nll, bounds=(np.log(0.05), np.log(20.0)), method="bounded")
    return float(np.exp(result.x))
