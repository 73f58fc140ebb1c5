"""Study -> the model's image input, with a record of what was done so it can be undone.

    upload -> decode (io: DICOM/PNG/JPEG, one shared window to [0, 1])
           -> preprocess (here: which phases, which slice, pad to a square, resize)
           -> model

The phase choice and the geometry are decided once, here, and recorded in a :class:`ModelImage`:
the page shows exactly those phases with their labels and times, and maps computed on the model
input go back to the original pixels with :meth:`Geometry.inverse` (nothing re-derives it).

Phase roles of a DCE-MRI: the first phase is *pre*-contrast; *early* is the later phase nearest
to 90 s after it and *late* the remaining one nearest to 360 s (by order when times are unknown
but the order came from the data). Two phases serve as pre, early and late = early. An upload
whose phase order is not known (PNG/JPEG without phase names, ``phase_source == "unassigned"``)
is refused: the order of upload never decides.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from mmcrnet.errors import UnsupportedImage
from mmcrnet.io import Study
from mmcrnet.model import IMAGE_KINDS, MAMMOGRAM, MRI, NO_IMAGE  # noqa: F401 - the contract

#: Side of the square image input. 128 rather than the paper's 224: a 4-block CNN reads size,
#: washout, heterogeneity, rim and irregularity back from 128 x 128 phantom pixels, and training
#: costs ~3x less per sample on the CPU, which is what lets the bundled model train in 45 min.
IMAGE_SIZE = 128

MRI_ROLES = ("pre", "early", "late")
MRI_TARGET_TIMES_S = (0.0, 90.0, 360.0)
#: The longest side / the shortest that the model reads (a breast MRI slice is about 1:1, a
#: mammogram about 1.3:1); a 65535 x 96 strip would otherwise be padded to a 16 GiB square.
MAX_ASPECT = 4.0
#: The longest side the model reads (a mammogram detector is up to about 4 800 pixels).
MAX_SIDE = 8192


@dataclass(frozen=True)
class Geometry:
    """Where an (H, W) image sits in the model's (size, size) input: zero-padded to a square of
    side ``max(H, W)`` (``top`` rows above, ``left`` columns to the left), then resized to
    ``size`` (area average when shrinking, bilinear when enlarging).

    :meth:`forward` applies it, :meth:`inverse` maps any plane over the model input (a map at a
    layer's resolution included) back onto the original pixels.
    """

    height: int
    width: int
    size: int

    @property
    def side(self) -> int:
        return max(self.height, self.width)

    @property
    def top(self) -> int:
        return (self.side - self.height) // 2

    @property
    def left(self) -> int:
        return (self.side - self.width) // 2

    @property
    def scale(self) -> float:
        """Model-input pixels per original pixel."""
        return self.size / self.side

    def forward(self, image: np.ndarray) -> np.ndarray:
        """(C, H, W) -> (C, size, size) float32.

        Raises:
            ValueError: ``image`` is not (C, height, width).
        """
        if image.ndim != 3 or image.shape[1:] != (self.height, self.width):
            raise ValueError(
                f"image of shape {image.shape} does not match the geometry's "
                f"(C, {self.height}, {self.width})"
            )
        # One channel at a time: the padded square is side^2 floats (64 MiB at 4096).
        return np.stack([self._forward_plane(plane) for plane in image])

    def _forward_plane(self, plane: np.ndarray) -> np.ndarray:
        padded = np.zeros((self.side, self.side), dtype=np.float32)
        padded[self.top : self.top + self.height, self.left : self.left + self.width] = plane
        if self.side == self.size:
            return padded
        tensor = torch.from_numpy(padded)[None, None]  # (1, 1, side, side)
        mode = "area" if self.side > self.size else "bilinear"
        resized = F.interpolate(
            tensor,
            size=(self.size, self.size),
            mode=mode,
            **({} if mode == "area" else {"align_corners": False}),
        )
        return resized[0, 0].numpy()

    def inverse(self, plane: np.ndarray) -> np.ndarray:
        """(h, w) plane over the whole model input (any resolution, e.g. a conv layer's 8 x 8)
        -> (H, W) over the original image: bilinear up to the padded square, padding cropped."""
        if plane.ndim != 2:
            raise ValueError(f"a plane must be 2-D, not of shape {plane.shape}")
        tensor = torch.from_numpy(np.ascontiguousarray(plane, dtype=np.float32))[None, None]
        square = F.interpolate(
            tensor, size=(self.side, self.side), mode="bilinear", align_corners=False
        )[0, 0]
        return (
            square[self.top : self.top + self.height, self.left : self.left + self.width]
            .numpy()
            .copy()
        )

    def to_dict(self) -> dict[str, int]:
        return {
            "height": self.height,
            "width": self.width,
            "size": self.size,
            "side": self.side,
            "top": self.top,
            "left": self.left,
        }


@dataclass(frozen=True)
class ModelPhase:
    """One channel of the model's image input and the study phase it came from.

    Attributes:
        role: what the model reads it as: "pre", "early", "late" or "mammogram".
        index: the phase's position in ``study.phases``.
        label: the study's own label of that phase (from the data: "phase 2", "early", ...).
        time_s: its time after the first phase, when the data says.
    """

    role: str
    index: int
    label: str
    time_s: float | None

    @property
    def caption(self) -> str:
        """ "early: phase 2, 85 s" (the role, then what the data says when it says more)."""
        said = [] if self.label in (self.role, "image") else [self.label]
        if self.time_s is not None and f"{self.time_s:g} s" not in self.label:
            said.append(f"{self.time_s:g} s")
        return f"{self.role}: {', '.join(said)}" if said else self.role


@dataclass(frozen=True)
class ModelImage:
    """The image as the model reads it, and how it was made from the study.

    Attributes:
        kind: :data:`MRI` or :data:`MAMMOGRAM`.
        pixels: (C, size, size) float32 in [0, 1]; C = 3 for a DCE-MRI, 1 for a mammogram.
        phases: (C,) the study phase behind each channel.
        slice_index: the slice of the study that was read.
        geometry: padding and resizing applied (with its inverse).
        window: the study's (lo, hi) in modality units that the reader mapped to [0, 1]
            (shared by all phases, so enhancement survives).
    """

    kind: int
    pixels: np.ndarray
    phases: tuple[ModelPhase, ...]
    slice_index: int
    geometry: Geometry
    window: tuple[float, float] = (0.0, 1.0)

    @property
    def kind_name(self) -> str:
        return IMAGE_KINDS[self.kind]

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind_name,
            "slice_index": self.slice_index,
            "phases": [
                {"role": p.role, "index": p.index, "label": p.label, "time_s": p.time_s}
                for p in self.phases
            ],
            "geometry": self.geometry.to_dict(),
            "window": list(self.window),
        }


def dce_phase_indices(times_s: Sequence[float | None]) -> tuple[int, int, int]:
    """Which phases serve as pre, early and late: the first phase, then the phases nearest to
    90 s and 360 s after it (by order when times are unknown).

    Raises:
        UnsupportedImage: fewer than two phases (no contrast dynamics to read).
    """
    count = len(times_s)
    if count < 2:
        raise UnsupportedImage(
            f"a DCE-MRI needs at least 2 phases (pre- and post-contrast), this study has {count}"
        )
    if count == 2:
        return 0, 1, 1
    if any(t is None for t in times_s):
        return 0, 1, count - 1
    known = [t for t in times_s if t is not None]  # all of them, checked above
    times = np.asarray(known, dtype=float) - known[0]
    later = np.arange(1, count)
    early = int(later[np.argmin(np.abs(times[1:] - MRI_TARGET_TIMES_S[1]))])
    late_candidates = later[later != early]
    late = int(late_candidates[np.argmin(np.abs(times[late_candidates] - MRI_TARGET_TIMES_S[2]))])
    if late < early:
        late = early
    return 0, early, late


def model_image(study: Study, size: int = IMAGE_SIZE) -> ModelImage:
    """The model's image input for ``study`` (its current slice).

    Raises:
        UnsupportedImage: a modality the model does not read (CT, ...), a DCE-MRI with one
            phase, phases whose order is not known (assign them first), or an image more than
            :data:`MAX_ASPECT` times longer than wide or more than :data:`MAX_SIDE` a side.
    """
    image = study.image  # (phases, H, W), stacked from the phases on each access
    height, width = (int(n) for n in image.shape[-2:])
    aspect = max(height, width) / max(min(height, width), 1)
    if aspect > MAX_ASPECT:
        raise UnsupportedImage(
            f"the image is {width} x {height} pixels ({aspect:.0f}:1); the model reads images "
            f"no more than {MAX_ASPECT:g} times longer than wide"
        )
    if max(height, width) > MAX_SIDE:
        raise UnsupportedImage(
            f"the image is {width} x {height} pixels; the model reads images up to {MAX_SIDE} "
            "pixels a side"
        )
    geometry = Geometry(height, width, size)
    if study.kind == "mri":
        if getattr(study, "phase_source", "dicom") == "unassigned":
            raise UnsupportedImage(
                "the phase of each image is not known ("
                + ", ".join(p.label for p in study.phases)
                + "): say which image is pre-contrast, early and late"
            )
        chosen = dce_phase_indices([p.time_s for p in study.phases])
        phases = tuple(
            ModelPhase(role, i, study.phases[i].label, study.phases[i].time_s)
            for role, i in zip(MRI_ROLES, chosen)
        )
        pixels = geometry.forward(image[list(chosen)].astype(np.float32))
        return ModelImage(MRI, pixels, phases, study.slice_index, geometry, study.window)
    if study.kind == "mammogram":
        first = study.phases[0]
        pixels = geometry.forward(image[:1].astype(np.float32))
        return ModelImage(
            MAMMOGRAM,
            pixels,
            (ModelPhase("mammogram", 0, first.label, first.time_s),),
            study.slice_index,
            geometry,
            study.window,
        )
    raise UnsupportedImage(
        f"the model reads DCE-MRI or mammograms, not {study.kind} ({study.modality}) images"
    )


def image_input(study: Study, size: int = IMAGE_SIZE) -> tuple[int, np.ndarray]:
    """``(kind, pixels)`` of :func:`model_image` (training and batch code need no more)."""
    image = model_image(study, size)
    return image.kind, image.pixels
