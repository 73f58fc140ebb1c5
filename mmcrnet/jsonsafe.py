"""Valid JSON from numbers that may be undefined: NaN and infinities become None (``null``), so
every document the app and the CLI write passes ``json.dumps(..., allow_nan=False)``."""

from __future__ import annotations

import json
import math

import numpy as np


def finite_or_none(value: float) -> float | None:
    """``value`` rounded to 4 decimals, or None where it is NaN or infinite (valid JSON)."""
    return round(float(value), 4) if math.isfinite(value) else None


def json_safe(value: object) -> object:
    """``value`` with every non-finite float replaced by None, recursively (dicts, lists and
    tuples), so that ``json.dumps(..., allow_nan=False)`` accepts it."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    if isinstance(value, np.floating):
        return json_safe(float(value))
    if isinstance(value, np.integer):
        return int(value)
    return value


def dumps(value: object, indent: int | None = None) -> str:
    """``value`` as strict JSON (non-finite numbers as null)."""
    return json.dumps(json_safe(value), indent=indent, allow_nan=False)
