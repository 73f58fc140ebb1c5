"""Every document is strict JSON: undefined numbers are null, never NaN."""

from __future__ import annotations

import json
import math

import numpy as np

from mmcrnet.jsonsafe import dumps, finite_or_none, json_safe
from mmcrnet.metrics import scores


def test_non_finite_numbers_become_null_at_any_depth() -> None:
    value = {"a": math.nan, "b": [1.0, math.inf, (np.float32(np.nan), np.int64(3))], "c": "x"}
    assert json_safe(value) == {"a": None, "b": [1.0, None, [None, 3]], "c": "x"}
    assert json.loads(dumps(value)) == {"a": None, "b": [1.0, None, [None, 3]], "c": "x"}
    assert finite_or_none(0.123456) == 0.1235 and finite_or_none(-math.inf) is None


def test_metrics_of_a_set_without_every_outcome_are_strict_json() -> None:
    """Two outcomes present: the macro AUC is undefined, and said so as null."""
    metrics = scores(np.array([0, 1, 0, 1]), np.full((4, 3), 1 / 3)).to_dict()
    assert metrics["auc"] is None
    json.dumps(metrics, allow_nan=False)
