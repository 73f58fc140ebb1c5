"""PNG/JPEG files -> phases, ordered by what their file names or PNG metadata say.

PNG/JPEG images are never ordered by upload order. Each image's phase comes from its PNG text
metadata (``phase``, ``time_s``, ``TriggerTime`` in ms) or else its file name: pre /
precontrast / baseline, early / post1, late / delayed; phase2 / ph2 / p2; 90s / t90s / 360sec.
When one scheme (roles, then times, then numbers) gives every image a distinct phase, that
orders them (``phase_source="names"``); otherwise they stay in natural name order, labelled by
file name, with ``phase_source="unassigned"`` until :meth:`~mmcrnet.io.study.Study.assign_phases`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import TypeVar

import numpy as np

from mmcrnet.errors import ImageTooLarge, MixedSeries, UnreadableImage
from mmcrnet.io.gather import Gather, Item
from mmcrnet.io.modality import normalise_modality, study_kind
from mmcrnet.io.phase import Phase, StudyParts
from mmcrnet.io.raster import RasterImage, check_size, read_raster
from mmcrnet.io.sources import distinct, natural_key
from mmcrnet.io.window import apply_window, percentile_window


def read_raster_series(files: list[Item], hint: str | None, gather: Gather) -> StudyParts:
    """Read PNG/JPEG images into one-slice phases, ordered by their names or metadata.

    Args:
        files: the PNG/JPEG files of the upload (read in natural name order).
        hint: the modality the user gave ("MR", "mammo", ...); "OT" when None.
        gather: options and running notes of this read.

    Raises:
        UnreadableImage: or one of its subclasses, for a file that may not be skipped, or when
            none is left.
        ImageTooLarge: the images declare more than ``limits.max_total_pixels`` in total.
        MixedSeries: the images differ in size.
    """
    limits = gather.limits
    items = sorted(files, key=lambda i: natural_key(i.raw.name))
    sized: list[Item] = []
    total = 0
    for item in items:
        try:
            total += check_size(item.raw, limits)
        except ImageTooLarge:
            raise
        except UnreadableImage as exc:
            if not gather.may_skip(item, exc):
                raise
            continue
        if total > limits.max_total_pixels:
            raise ImageTooLarge(
                f"{item.raw.name}: the upload declares more than {limits.max_total_pixels} "
                "pixels in total"
            )
        sized.append(item)
    images: list[RasterImage] = []
    for item in sized:
        try:
            images.append(read_raster(item.raw, limits))
        except UnreadableImage as exc:
            if not gather.may_skip(item, exc):
                raise
    if not images:
        gather.raise_empty()
    first = images[0]
    for img in images[1:]:
        if img.pixels.shape != first.pixels.shape:
            h0, w0 = first.pixels.shape
            h1, w1 = img.pixels.shape
            raise MixedSeries(f"{first.name} is {w0}x{h0} pixels but {img.name} is {w1}x{h1}")
    order, labels, times, phase_source, note = _raster_phases(images)
    if note:
        gather.notes.append(note)
    images = [images[i] for i in order]
    stacks = [img.pixels[None] for img in images]
    if all(img.bits == 8 for img in images):
        window = (0.0, 255.0)
    else:
        window = percentile_window(stacks)
    volumes = apply_window(stacks, window, invert=False)
    phases = tuple(
        Phase(
            label=labels[k], index=k, time_s=times[k], volume=volumes[k], sources=(images[k].name,)
        )
        for k in range(len(images))
    )
    modality = normalise_modality(hint) or "OT"
    return StudyParts(
        modality=modality,
        kind=study_kind(modality, set(), set()),
        phases=phases,
        slice_positions_mm=None,
        pixel_spacing_mm=None,
        window=window,
        photometric="MONOCHROME2",
        sources=tuple(img.name for img in images),
        transfer_syntaxes=distinct([img.format for img in images]),
        phase_source=phase_source,
    )


# Phase words in PNG/JPEG file names and text metadata (matched case-insensitively, delimited
# by non-letters). Roles rank pre < early < late.
_ROLE_RANK = {"pre": 0, "early": 1, "late": 2}
_ROLE_PATTERNS = (
    ("pre", re.compile(r"(?<![a-z])(?:pre|pre[-_ ]?contrast|baseline)(?![a-z])")),
    ("early", re.compile(r"(?<![a-z])(?:early|post[-_ ]?1(?![0-9]))(?![a-z])")),
    ("late", re.compile(r"(?<![a-z])(?:late|delayed)(?![a-z])")),
)
_NUMBER_PATTERN = re.compile(r"(?<![a-z])(?:phase|ph|p)[-_ ]?([0-9]{1,2})(?![0-9])")
_TIME_PATTERN = re.compile(
    r"(?<![a-z0-9.])t?[-_]?([0-9]+(?:\.[0-9]+)?)[-_ ]?(?:s|sec|secs|seconds)(?![a-z0-9])"
)


@dataclass(frozen=True)
class _PhaseHint:
    """What one image's name or metadata says about its phase (None where it says nothing)."""

    role: str | None  # "pre", "early" or "late"
    number: int | None  # "phase 2" -> 2
    time_s: float | None  # seconds after the pre phase


_T = TypeVar("_T")


def _unique(values: list[_T]) -> _T | None:
    """The value when all of ``values`` agree (and there is one), else None (absent/ambiguous)."""
    distinct = list(dict.fromkeys(values))
    return distinct[0] if len(distinct) == 1 else None


def _hint_from_text(text: str) -> _PhaseHint:
    lowered = text.lower()
    return _PhaseHint(
        role=_unique([role for role, pattern in _ROLE_PATTERNS if pattern.search(lowered)]),
        number=_unique([int(m.group(1)) for m in _NUMBER_PATTERN.finditer(lowered)]),
        time_s=_unique([float(m.group(1)) for m in _TIME_PATTERN.finditer(lowered)]),
    )


def _hint_from_metadata(text: tuple[tuple[str, str], ...]) -> _PhaseHint | None:
    """``phase`` (a role word or number), ``time_s`` (s) or ``TriggerTime`` (ms) text chunks."""
    meta = {k.strip().lower(): v.strip() for k, v in text}
    role, number, time_s = None, None, None
    if "phase" in meta:
        value = meta["phase"]
        if re.fullmatch(r"[0-9]{1,3}", value):
            number = int(value)
        else:
            role = _hint_from_text(value).role
    for key, scale in (("time_s", 1.0), ("triggertime", 1e-3)):
        if key in meta and time_s is None:
            try:
                value_s = float(meta[key]) * scale
            except ValueError:
                continue
            if np.isfinite(value_s) and value_s >= 0:
                time_s = round(value_s, 3)
    if role is None and number is None and time_s is None:
        return None
    return _PhaseHint(role=role, number=number, time_s=time_s)


def _phase_hint(image: RasterImage) -> _PhaseHint:
    """Metadata wins over the file name (its last path part, without the extension)."""
    meta = _hint_from_metadata(image.text)
    if meta is not None:
        return meta
    stem = PurePosixPath(image.name.replace("\\", "/")).name
    stem = stem.rsplit(".", 1)[0] if "." in stem else stem
    return _hint_from_text(stem)


def _scheme_keys(hints: list[_PhaseHint]) -> dict[str, list[float]]:
    """Sort keys of every scheme that gives each image a distinct phase: "roles" (pre < early <
    late), "times" (pre counts as 0 s) and "numbers"."""
    keys: dict[str, list[float]] = {}
    roles = [_ROLE_RANK[h.role] if h.role is not None else None for h in hints]
    times = [
        h.time_s if h.time_s is not None else (0.0 if h.role == "pre" else None) for h in hints
    ]
    numbers = [h.number for h in hints]
    for scheme, values in (("roles", roles), ("times", times), ("numbers", numbers)):
        present = [float(v) for v in values if v is not None]
        if len(present) == len(hints) and len(set(present)) == len(hints):
            keys[scheme] = present
    return keys


def _raster_phases(
    images: list[RasterImage],
) -> tuple[list[int], list[str], list[float | None], str, str | None]:
    """Order PNG/JPEG images (given in natural name order) by what their names/metadata say.

    Returns:
        (order into ``images``, labels, times in s after the first phase, phase_source, note).
    """
    n = len(images)
    if n == 1:
        return [0], ["image"], [None], "single", None
    hints = [_phase_hint(img) for img in images]
    usable = _scheme_keys(hints)
    no_times: list[float | None] = [None] * n
    unassigned = (
        list(range(n)),
        _distinct_labels([img.name for img in images]),
        no_times,
        "unassigned",
    )
    if not usable:
        return (*unassigned, None)
    orders = {scheme: sorted(range(n), key=keys.__getitem__) for scheme, keys in usable.items()}
    if len({tuple(o) for o in orders.values()}) > 1:
        note = (
            "the phase order of the images is not known: their names/metadata give different "
            f"orders by {' and '.join(orders)}"
        )
        return (*unassigned, note)
    scheme = next(s for s in ("roles", "times", "numbers") if s in usable)
    order = orders[scheme]
    times: list[float | None] = [None] * n
    if "times" in usable:
        t0 = usable["times"][order[0]]
        times = [round(usable["times"][i] - t0, 3) for i in order]
    labels: list[str] = []
    for i in order:
        hint = hints[i]
        if scheme == "roles" and hint.role is not None:
            labels.append(hint.role)
        elif scheme == "times":
            labels.append(time_label(usable["times"][i]))
        else:
            labels.append(f"phase {hint.number}")
    return order, labels, times, "names", None


def time_label(t: float) -> str:
    """A phase label for ``t`` seconds after contrast: "pre" for 0, else "<t> s"."""
    return "pre" if t == 0 else f"{t:g} s"


def _distinct_labels(names: list[str]) -> list[str]:
    """File names as labels, with " (2)", " (3)" ... appended to repeats."""
    seen: dict[str, int] = {}
    out = []
    for name in names:
        seen[name] = seen.get(name, 0) + 1
        out.append(name if seen[name] == 1 else f"{name} ({seen[name]})")
    return out
