"""What the viewer shows, never what the model reads: window/level and display-only contrast
aids (CLAHE, histogram equalisation, Gaussian smoothing) over a study's [0, 1] pixels.

    study phase (S, H, W) in [0, 1] -> the slice -> contrast aid -> window/level -> display
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.ndimage import gaussian_filter
from skimage import exposure

from mmcrnet.errors import InvalidArgument

#: Window presets on the study's [0, 1] display scale: (low, high).
WINDOW_PRESETS: dict[str, tuple[float, float]] = {
    "Full range": (0.0, 1.0),
    "Soft tissue": (0.05, 0.55),
    "Enhancing tissue": (0.25, 0.9),
    "Bright detail": (0.5, 1.0),
}
AIDS: tuple[str, ...] = ("none", "CLAHE", "histogram equalisation", "Gaussian smoothing")


@dataclass(frozen=True)
class View:
    """A view's settings: the window (low, high) on [0, 1], a contrast aid, its strength (CLAHE
    clip limit, or the Gaussian's sigma in pixels)."""

    low: float = 0.0
    high: float = 1.0
    aid: str = "none"
    strength: float = 0.01

    def __post_init__(self) -> None:
        if not 0.0 <= self.low < self.high <= 1.0:
            raise InvalidArgument(
                f"window {self.low:g} to {self.high:g} must satisfy 0 <= low < high <= 1"
            )
        if self.aid not in AIDS:
            raise InvalidArgument(f"contrast aid '{self.aid}' is not one of {', '.join(AIDS)}")

    @property
    def centre(self) -> float:
        """The level (the window's centre)."""
        return (self.low + self.high) / 2

    @property
    def width(self) -> float:
        return self.high - self.low


def display(pixels: np.ndarray, view: View) -> np.ndarray:
    """(H, W) in [0, 1] for the screen: the contrast aid, then the window (a copy; the input
    is never changed)."""
    image = np.clip(np.asarray(pixels, dtype=np.float64), 0.0, 1.0)
    if view.aid == "CLAHE":
        image = exposure.equalize_adapthist(image, clip_limit=max(view.strength, 1e-4))
    elif view.aid == "histogram equalisation":
        image = exposure.equalize_hist(image)
    elif view.aid == "Gaussian smoothing":
        image = gaussian_filter(image, sigma=max(view.strength, 0.1))
    return np.clip((image - view.low) / view.width, 0.0, 1.0).astype(np.float32)
