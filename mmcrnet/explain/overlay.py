"""Maps drawn over images as pictures (numpy, no plotting library at run time but plotly's
colour scale): the app's overlays and the PDF report share them."""

from __future__ import annotations

import numpy as np


def _lut(name: str) -> np.ndarray:
    """(256, 3) uint8 colours of a plotly colour scale."""
    from plotly.colors import sample_colorscale

    colours = sample_colorscale(name, list(np.linspace(0.0, 1.0, 256)))
    return np.array([[int(v) for v in c[4:-1].split(",")] for c in colours], dtype=np.uint8)


#: Diverging evidence colours, as in the attribution heatmap: index 0 = strongest evidence
#: away from the outcome (blue), 255 = strongest towards it (red); the middle is never drawn.
EVIDENCE_LUT = _lut("RdBu")[::-1].copy()


def overlay(image: np.ndarray, cam: np.ndarray, opacity: float, against: bool = True) -> np.ndarray:
    """An RGB picture (H, W, 3) uint8: the grayscale image (H, W) in [0, 1] with a signed map
    in [-1, 1] blended over it, red where the region pushes towards the outcome and, with
    ``against``, blue where it pushes away (``opacity`` x |evidence|, so no tint where there is
    none). Without ``against`` only the classic positive part is drawn. Composited in numpy:
    an image, not a chart, so the page draws it at once."""
    gray = (np.clip(image, 0.0, 1.0) * 255.0)[..., None].repeat(3, axis=2)  # (H, W, 3)
    shown = np.clip(cam, -1.0 if against else 0.0, 1.0)
    colour = EVIDENCE_LUT[np.round((shown + 1.0) * 127.5).astype(np.int64)].astype(np.float64)
    alpha = (opacity * np.abs(shown))[..., None]
    return np.round(gray * (1.0 - alpha) + colour * alpha).astype(np.uint8)


def colour_bar(against: bool = True, height: int = 12, width: int = 256) -> np.ndarray:
    """The evidence colour scale as a horizontal strip (height, width, 3) uint8: strongest
    evidence away (left) to strongest towards (right), or none to strongest towards."""
    start = 0 if against else 128
    return EVIDENCE_LUT[np.linspace(start, 255, width).round().astype(np.int64)][None].repeat(
        height, axis=0
    )
