"""The one window shared by every phase of a study: modality units -> [0, 1].

All phases of a DCE series must share one window, or the enhancement between them is lost.
"""

from __future__ import annotations

import numpy as np

_PERCENTILE_SAMPLE = 4_000_000  # at most this many values are used for the percentiles


def percentile_window(stacks: list[np.ndarray]) -> tuple[float, float]:
    """``(lo, hi)`` at the 0.5th and 99.5th percentiles of all ``stacks`` together (each
    ``(S, H, W)``), widened to the full range, then to one unit, when that is empty."""
    flat = np.concatenate([s.ravel() for s in stacks])
    if flat.size > _PERCENTILE_SAMPLE:
        flat = flat[:: flat.size // _PERCENTILE_SAMPLE + 1]
    lo, hi = (float(v) for v in np.percentile(flat, [0.5, 99.5]))
    if hi <= lo:
        lo, hi = float(flat.min()), float(flat.max())
    if hi <= lo:
        hi = lo + 1.0
    return (lo, hi)


def apply_window(
    stacks: list[np.ndarray], window: tuple[float, float], *, invert: bool
) -> list[np.ndarray]:
    """Map each ``(S, H, W)`` stack through ``window`` to read-only float32 in [0, 1];
    ``invert`` (MONOCHROME1) turns it so that dense is bright."""
    lo, hi = window
    scale = np.float32(1.0 / (hi - lo)) if hi > lo else np.float32(1.0)
    out = []
    for stack in stacks:
        vol = np.clip((stack.astype(np.float32) - np.float32(lo)) * scale, 0.0, 1.0)
        if invert:
            vol = 1.0 - vol
        vol = np.ascontiguousarray(vol, dtype=np.float32)
        vol.setflags(write=False)
        out.append(vol)
    return out
