from __future__ import annotations

import numpy as np
import pytest

from mmcrnet.metrics import expected_calibration_error, fit_temperature, scores, softmax


def sample(n: int = 6000, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    logits = rng.normal(0, 2, (n, 3))
    p = softmax(logits)
    y = (rng.random(n)[:, None] > np.cumsum(p, axis=1)).sum(axis=1)
    return logits, y


def test_calibrated_probabilities_score_as_calibrated() -> None:
    logits, y = sample()
    s = scores(y, softmax(logits))
    assert s.ece < 0.02 and s.calibration_slope == pytest.approx(1.0, abs=0.08)
    assert 0.5 < s.auc < 1.0 and s.n == 6000


def test_temperature_recovers_overconfidence() -> None:
    logits, y = sample()
    temperature = fit_temperature(3.0 * logits, y)
    assert temperature == pytest.approx(3.0, rel=0.1)
    before = scores(y, softmax(3.0 * logits))
    after = scores(y, softmax(3.0 * logits, temperature))
    assert after.ece < before.ece and before.calibration_slope < 0.5


def test_ece_of_a_known_case() -> None:
    proba = np.array([[0.9, 0.05, 0.05]] * 10)
    y = np.array([0] * 7 + [1] * 3)
    assert expected_calibration_error(y, proba) == pytest.approx(0.2)


def test_auc_is_nan_when_a_class_is_absent() -> None:
    assert np.isnan(scores(np.array([0, 1, 0, 1]), np.full((4, 3), 1 / 3)).auc)
