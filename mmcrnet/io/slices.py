"""The slice to show by default.

With two or more phases, the enhancement ``E = phase[1] - phase[0]`` (after windowing) is
thresholded at its 95th percentile over the whole volume, and the slice with the largest sum of
``E`` above that threshold wins (ties -> lowest index); with one phase, or when nothing
enhances, the middle slice.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from mmcrnet.io.phase import Phase


def default_slice(phases: Sequence[Phase]) -> int:
    """Slice through the strongest enhancement (phase 1 - phase 0), else the middle slice."""
    n = phases[0].volume.shape[0]
    if len(phases) < 2 or n == 1:
        return n // 2
    enhancement = phases[1].volume - phases[0].volume  # (S, H, W)
    threshold = float(np.percentile(enhancement, 95))
    above = np.where(enhancement > threshold, enhancement, 0.0)
    scores = above.reshape(n, -1).sum(axis=1)
    if not np.any(scores > 0):
        return n // 2
    return int(np.argmax(scores))
