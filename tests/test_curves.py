"""ROC curves, confusion matrix and reliability bins on hand-made outcomes with known answers."""

from __future__ import annotations

import json

import numpy as np
import pytest

from mmcrnet.curves import Curves, confusion_matrix, curves, reliability_bins, roc_curves
from mmcrnet.metrics import expected_calibration_error


def test_perfect_ranking_gives_a_corner_curve_and_auc_one() -> None:
    y = np.array([0, 1, 2, 0, 1, 2])
    proba = np.eye(3)[y] * 0.8 + 0.2 / 3
    for curve in roc_curves(y, proba):
        assert curve.auc == 1.0 and curve.positives == 2 and curve.negatives == 4
        assert curve.fpr[0] == 0.0 and curve.tpr[-1] == 1.0
        assert (0.0, 1.0) in zip(curve.fpr, curve.tpr)  # the top-left corner


def test_a_class_that_is_absent_has_no_curve_and_no_auc() -> None:
    y = np.array([0, 0, 1, 1])
    proba = np.full((4, 3), 1 / 3)
    none_curve = roc_curves(y, proba)[2]
    assert none_curve.auc is None and none_curve.fpr == () and none_curve.positives == 0


def test_confusion_counts_rows_true_columns_predicted() -> None:
    y = np.array([0, 0, 1, 2, 2, 2])
    predicted = np.array([0, 1, 1, 2, 0, 2])
    assert confusion_matrix(y, predicted) == ((1, 1, 0), (0, 1, 0), (1, 0, 2))


def test_reliability_bins_agree_with_the_ece() -> None:
    rng = np.random.default_rng(0)
    proba = rng.dirichlet(np.ones(3), size=400)
    y = np.array([rng.choice(3, p=p) for p in proba])
    bins = reliability_bins(y, proba)
    assert sum(b.count for b in bins) == 400
    ece = sum(b.count / 400 * abs(b.accuracy - b.confidence) for b in bins if b.count)
    assert ece == pytest.approx(expected_calibration_error(y, proba), abs=1e-3)
    empty = [b for b in bins if b.count == 0]
    assert all(b.accuracy is None and b.confidence is None for b in empty)


def test_curves_round_trip_as_strict_json_and_thin_long_curves() -> None:
    rng = np.random.default_rng(1)
    y = rng.integers(0, 3, 5000)
    proba = rng.dirichlet(np.ones(3), size=5000)
    result = curves(y, proba)
    assert all(len(c.fpr) <= 200 for c in result.roc)
    text = json.dumps(result.to_dict(), allow_nan=False)
    assert Curves.from_dict(json.loads(text)) == result


def test_mismatched_inputs_are_named() -> None:
    with pytest.raises(ValueError, match=r"labels \(3,\) and probabilities \(2, 3\)"):
        curves(np.array([0, 1, 2]), np.full((2, 3), 1 / 3))
    with pytest.raises(ValueError, match="labels must be 0..2, found 0..3"):
        curves(np.array([0, 3]), np.full((2, 3), 1 / 3))
