"""Assemble uploaded files into a study: phases (DCE time points) of slice volumes, one shared
window mapping to [0, 1], and the slice to show.

Ordering rules:

* Phases are told apart by the first of TemporalPositionIdentifier (or the per-frame
  TemporalPositionIndex), TriggerTime, AcquisitionTime that is present on every frame and takes
  more than one value. When slice positions are known, the frames at each slice position are
  ranked by that tag and the k-th frame of every position goes to phase k (so per-slice
  acquisition-time jitter does not split a phase); a tag that varies while no position repeats
  therefore still gives a single phase. Without positions, frames are grouped by the exact value.
* Slices within a phase are sorted by position along the slice normal
  (``dot(ImagePositionPatient, cross(row_dir, col_dir))``), else by InstanceNumber, file name
  and frame number.
* Default slice: with two or more phases, the enhancement ``E = phase[1] - phase[0]`` (after
  windowing) is thresholded at its 95th percentile over the whole volume, and the slice with the
  largest sum of ``E`` above that threshold wins (ties -> lowest index); with one phase, or when
  nothing enhances, the middle slice.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from collections.abc import Sequence

import numpy as np

from mmcrnet.errors import (
    EmptyArchive,
    ImageTooLarge,
    MixedSeries,
    NoPixelData,
    UnreadableImage,
    WrongFileType,
)
from mmcrnet.io.dicom import DecodedDicom, DicomHeader, FrameInfo, decode, read_header
from mmcrnet.io.raster import RasterImage, check_size, read_raster
from mmcrnet.io.sources import (
    DEFAULT_LIMITS,
    Limits,
    RawFile,
    expand_zip,
    natural_key,
    read_paths_as_files,
    sniff,
)

_POSITION_TOL_MM = 0.01
_ORIENTATION_TOL = 1e-3
_SPACING_RTOL = 1e-3
_PERCENTILE_SAMPLE = 4_000_000
_MODALITY_ALIASES = {"MRI": "MR", "MAMMOGRAM": "MG", "MAMMOGRAPHY": "MG", "MAMMO": "MG"}


@dataclass(frozen=True, eq=False)
class Phase:
    """One time point of the study."""

    label: str  # "pre"/"early"/"late" for 3 phases, "phase N" otherwise, "image" for one phase
    index: int  # 0-based order after sorting
    time_s: float | None  # seconds after the first phase; None if unknown
    volume: np.ndarray  # (S, H, W) float32 in [0, 1], slices sorted along the slice normal


@dataclass(frozen=True, eq=False)
class Study:
    """Everything read from one upload, windowed to [0, 1]."""

    modality: str
    kind: str  # "mri", "mammogram", "ct" or "other"
    phases: tuple[Phase, ...]
    slice_index: int
    slice_positions_mm: tuple[float, ...] | None
    pixel_spacing_mm: tuple[float, float] | None  # (row, col)
    window: tuple[float, float]  # (lo, hi) in modality units mapped to [0, 1]
    photometric: str
    sources: tuple[str, ...]
    transfer_syntaxes: tuple[str, ...]
    warnings: tuple[str, ...]

    @property
    def image(self) -> np.ndarray:
        """The chosen slice of every phase, ``(P, H, W)`` float32."""
        return np.stack([p.volume[self.slice_index] for p in self.phases])

    @property
    def shape(self) -> tuple[int, int, int, int]:
        """``(P, S, H, W)``."""
        s, h, w = self.phases[0].volume.shape
        return (len(self.phases), s, h, w)

    def with_slice(self, index: int) -> Study:
        """Return a copy showing slice ``index``.

        Raises:
            ValueError: ``index`` is outside ``0 .. S-1``.
        """
        n = self.shape[1]
        if not isinstance(index, (int, np.integer)) or isinstance(index, bool) or not 0 <= index < n:
            raise ValueError(f"slice index {index!r} is out of range: valid slices are 0..{n - 1}")
        return dataclasses.replace(self, slice_index=int(index))

    def summary(self) -> dict[str, object]:
        """JSON-serialisable description (no pixel data)."""
        return {
            "modality": self.modality,
            "kind": self.kind,
            "phases": [{"label": p.label, "index": p.index, "time_s": p.time_s} for p in self.phases],
            "shape": list(self.shape),
            "pixel_spacing_mm": list(self.pixel_spacing_mm) if self.pixel_spacing_mm else None,
            "slice_index": self.slice_index,
            "n_slices": self.shape[1],
            "slice_positions_mm": list(self.slice_positions_mm) if self.slice_positions_mm else None,
            "window": list(self.window),
            "photometric": self.photometric,
            "sources": list(self.sources),
            "transfer_syntaxes": list(self.transfer_syntaxes),
            "warnings": list(self.warnings),
        }


@dataclass(frozen=True)
class _Item:
    raw: RawFile
    container: str | None  # zip or directory the file came from (lenient skipping) or None


@dataclass(frozen=True, eq=False)
class _Frame:
    source: str
    info: FrameInfo
    values: np.ndarray  # (H, W) float32 modality units
    voi: np.ndarray | None
    window: tuple[float, float] | None


def read_study(
    files: Sequence[RawFile],
    *,
    modality: str | None = None,
    slice_index: int | None = None,
    limits: Limits = DEFAULT_LIMITS,
) -> Study:
    """Read an upload (DICOM files, a zip of a series, or PNG/JPEG images) into a :class:`Study`.

    Args:
        files: the uploaded files, in memory.
        modality: modality code for PNG/JPEG ("MR", "MG", ...); ignored (with a warning if it
            differs) for DICOM.
        slice_index: slice to show instead of the default choice.
        limits: safety limits.

    Raises:
        UnreadableImage: or one of its subclasses, with a one-line message naming the file.
        ValueError: ``slice_index`` is out of range.
    """
    return _read_items([_Item(f, None) for f in files], modality, slice_index, limits, [])


def read_paths(
    paths: Sequence[str | os.PathLike[str]],
    *,
    modality: str | None = None,
    slice_index: int | None = None,
    limits: Limits = DEFAULT_LIMITS,
) -> Study:
    """Read files and directories (recursed, natural order; sizes checked before reading).

    Non-image files found inside a directory (DICOMDIR, notes) are skipped with a warning;
    files named explicitly must be images. Other arguments as for :func:`read_study`.

    Raises:
        UnreadableImage: a path does not exist or cannot be read; see :func:`read_study`.
    """
    items: list[_Item] = []
    for path in paths:
        container = str(path) if os.path.isdir(path) else None
        items.extend(_Item(raw, container) for raw in read_paths_as_files([path], limits))
    return _read_items(items, modality, slice_index, limits, [])


# --- gathering ------------------------------------------------------------------------------------


def _read_items(
    items: list[_Item],
    modality: str | None,
    slice_index: int | None,
    limits: Limits,
    notes: list[str],
) -> Study:
    if not items:
        raise UnreadableImage("no files were given")
    typed: list[tuple[_Item, str]] = []
    containers: dict[str, None] = {}  # zips and directories seen, in order
    for item in items:
        raw = item.raw
        if len(raw.data) > limits.max_file_bytes:
            raise ImageTooLarge(
                f"{raw.name}: file is {len(raw.data)} bytes, more than the limit of {limits.max_file_bytes}"
            )
        if item.container is not None:
            containers.setdefault(item.container, None)
        try:
            kind = sniff(raw)
        except WrongFileType as exc:
            if item.container is None:
                raise
            notes.append(f"skipped {exc}")
            continue
        if kind == "zip":
            if item.container is not None:
                notes.append(f"skipped {raw.name}: nested archives are not expanded")
                continue
            members, zip_notes = expand_zip(raw, limits)
            notes.extend(zip_notes)
            containers[raw.name] = None
            for member in members:
                try:
                    member_kind = sniff(member)
                except WrongFileType as exc:
                    notes.append(f"skipped {exc}")
                    continue
                if member_kind == "zip":
                    notes.append(f"skipped {member.name}: nested archives are not expanded")
                    continue
                typed.append((_Item(member, raw.name), member_kind))
        else:
            typed.append((item, kind))

    kinds = {"dicom" if k == "dicom" else "raster" for _, k in typed}
    if len(kinds) > 1:
        dicom_name = next(i.raw.name for i, k in typed if k == "dicom")
        raster_name = next(i.raw.name for i, k in typed if k != "dicom")
        raise MixedSeries(
            f"{dicom_name} is DICOM but {raster_name} is a PNG/JPEG image; upload one kind at a time"
        )
    if kinds == {"dicom"}:
        return _dicom_study(typed, containers, modality, slice_index, limits, notes)
    if kinds == {"raster"}:
        return _raster_study(typed, modality, slice_index, limits, notes)
    _raise_empty(containers)
    raise UnreadableImage("no readable image in the upload")  # pragma: no cover - _raise_empty raises


def _raise_empty(containers: dict[str, None]) -> None:
    """Raise for the first archive/directory that yielded no image."""
    for name in containers:
        if name.lower().endswith(".zip") or not os.path.isdir(name):
            raise EmptyArchive(f"{name}: the archive holds no readable image")
        raise UnreadableImage(f"{name}: the directory holds no readable image")


def _normalise_hint(modality: str | None) -> str | None:
    if modality is None or not modality.strip():
        return None
    code = modality.strip().upper()
    return _MODALITY_ALIASES.get(code, code)


def _kind(modality: str, body_parts: set[str], sop_classes: set[str]) -> str:
    if modality == "MR":
        return "mri"
    if modality == "MG" or any("Mammography" in s for s in sop_classes):
        return "mammogram"
    if modality in ("DX", "CR") and "BREAST" in body_parts:
        return "mammogram"
    if modality == "CT":
        return "ct"
    return "other"


def _distinct(values: Sequence[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(values))


# --- DICOM ----------------------------------------------------------------------------------------


def _dicom_study(
    typed: list[tuple[_Item, str]],
    containers: dict[str, None],
    hint: str | None,
    slice_index: int | None,
    limits: Limits,
    notes: list[str],
) -> Study:
    headers: list[DicomHeader] = []
    total = 0
    for item, _ in typed:
        try:
            header = read_header(item.raw, limits)
        except NoPixelData as exc:
            if item.container is None:
                raise
            notes.append(f"skipped {exc}")
            continue
        total += header.declared_pixels
        if total > limits.max_total_pixels:
            raise ImageTooLarge(
                f"{header.name}: the upload declares more than {limits.max_total_pixels} pixels in total"
            )
        headers.append(header)
        notes.extend(header.warnings)
    if not headers:
        _raise_empty(containers)
    _check_consistent(headers)

    first = headers[0]
    modality = first.modality
    hint = _normalise_hint(hint)
    if hint is not None and hint != modality:
        notes.append(f"the DICOM modality {modality} was used instead of the given modality {hint}")

    has_window = any(f.window is not None for h in headers for f in h.frames) or first.samples > 1 \
        or first.photometric == "PALETTE COLOR"
    want_voi = not has_window and all(h.has_voi_lut for h in headers)
    decoded: list[DecodedDicom] = []
    for header in headers:
        result = decode(header, want_voi=want_voi)
        notes.extend(result.warnings)
        decoded.append(result)

    frames = [
        _Frame(
            source=d.header.name,
            info=info,
            values=d.values[info.index],
            voi=d.voi[info.index] if d.voi is not None else None,
            window=d.colour_range or info.window,
        )
        for d in decoded
        for info in d.header.frames
    ]
    phase_frames, positions = _assemble(frames)

    if want_voi:
        stacks = [np.stack([f.voi for f in p]) for p in phase_frames]  # type: ignore[misc]
        ranges = [d.voi_range for d in decoded if d.voi_range is not None]
        window = (min(r[0] for r in ranges), max(r[1] for r in ranges))
    else:
        stacks = [np.stack([f.values for f in p]) for p in phase_frames]
        windows = [f.window for f in frames if f.window is not None]
        if windows:
            window = (min(w[0] for w in windows), max(w[1] for w in windows))
        else:
            window = _percentile_window(stacks)
    volumes = _apply_window(stacks, window, invert=first.photometric == "MONOCHROME1")
    times = _phase_times(phase_frames)
    phases = _make_phases(volumes, times)
    used = _distinct([h.name for h in headers])
    return _finish(
        modality=modality,
        kind=_kind(modality, {h.body_part for h in headers}, {h.sop_class for h in headers}),
        phases=phases,
        slice_index=slice_index,
        positions=positions,
        spacing=first.pixel_spacing,
        window=window,
        photometric=first.photometric,
        sources=used,
        syntaxes=_distinct([h.transfer_syntax for h in headers]),
        notes=notes,
    )


def _check_consistent(headers: list[DicomHeader]) -> None:
    """All files must share size, orientation, pixel spacing, modality and colour model."""
    first = headers[0]
    ref_orientation = next((f.orientation for h in headers for f in h.frames if f.orientation), None)
    for h in headers:
        if (h.rows, h.columns) != (first.rows, first.columns):
            raise MixedSeries(
                f"{first.name} is {first.rows}x{first.columns} but {h.name} is {h.rows}x{h.columns} "
                "(Rows x Columns differ)"
            )
        if h.modality != first.modality:
            raise MixedSeries(f"{first.name} is modality {first.modality} but {h.name} is {h.modality}")
        if h.samples != first.samples or _mono_flavour(h) != _mono_flavour(first):
            raise MixedSeries(
                f"{first.name} is {first.photometric} but {h.name} is {h.photometric}"
            )
        if (h.pixel_spacing is None) != (first.pixel_spacing is None) or (
            h.pixel_spacing is not None
            and first.pixel_spacing is not None
            and not np.allclose(h.pixel_spacing, first.pixel_spacing, rtol=_SPACING_RTOL, atol=1e-6)
        ):
            raise MixedSeries(
                f"{first.name} has pixel spacing {first.pixel_spacing} mm but {h.name} has "
                f"{h.pixel_spacing} mm"
            )
        for f in h.frames:
            if ref_orientation is not None and f.orientation is not None and not np.allclose(
                f.orientation, ref_orientation, atol=_ORIENTATION_TOL
            ):
                raise MixedSeries(
                    f"{h.name} has image orientation {_fmt(f.orientation)} but the series has "
                    f"{_fmt(ref_orientation)}"
                )


def _mono_flavour(h: DicomHeader) -> str:
    return h.photometric if h.photometric in ("MONOCHROME1", "MONOCHROME2") else "colour"


def _fmt(values: Sequence[float]) -> str:
    return "[" + ", ".join(f"{v:g}" for v in values) + "]"


def _normal(frames: list[_Frame]) -> np.ndarray | None:
    orientation = next((f.info.orientation for f in frames if f.info.orientation), None)
    if orientation is None:
        return None
    row, col = np.asarray(orientation[:3]), np.asarray(orientation[3:])
    normal = np.cross(row, col)
    norm = float(np.linalg.norm(normal))
    return normal / norm if norm > 1e-6 else None


def _temporal_key(frames: list[_Frame]) -> tuple[str, list[float]] | None:
    for attr in ("temporal_index", "trigger_ms", "acquisition_s"):
        values = [getattr(f.info, attr) for f in frames]
        if all(v is not None for v in values) and len(set(values)) > 1:
            return attr, [float(v) for v in values]
    return None


_KEY_NAMES = {
    "temporal_index": "temporal position",
    "trigger_ms": "trigger time",
    "acquisition_s": "acquisition time",
}


def _fallback_order(frame: _Frame) -> tuple[object, ...]:
    inst = frame.info.instance_number
    return (inst is None, inst if inst is not None else 0, natural_key(frame.source), frame.info.index)


def _assemble(frames: list[_Frame]) -> tuple[list[list[_Frame]], tuple[float, ...] | None]:
    """Split frames into phases and sort slices; returns phases and slice positions (mm)."""
    normal = _normal(frames)
    key = _temporal_key(frames)
    if normal is not None and all(f.info.position is not None for f in frames):
        pos = [float(np.dot(f.info.position, normal)) for f in frames]  # type: ignore[arg-type]
        order = sorted(range(len(frames)), key=lambda i: pos[i])
        slots: list[list[int]] = []
        for i in order:
            if slots and abs(pos[i] - pos[slots[-1][0]]) <= _POSITION_TOL_MM:
                slots[-1].append(i)
            else:
                slots.append([i])
        n_phases = max(len(s) for s in slots)
        if n_phases > 1 and key is None:
            dup = next(s for s in slots if len(s) > 1)
            names = " and ".join(_distinct([_frame_name(frames[i]) for i in dup][:2]))
            raise MixedSeries(
                f"{names} share slice position {pos[dup[0]]:.2f} mm with no temporal tags to tell "
                "phases apart"
            )
        phases: list[list[tuple[float, _Frame]]] = [[] for _ in range(n_phases)]
        for slot in slots:
            if key is not None:
                slot = sorted(slot, key=lambda i: key[1][i])
                values = [key[1][i] for i in slot]
                if len(set(values)) != len(values):
                    names = " and ".join(_distinct([_frame_name(frames[i]) for i in slot][:2]))
                    raise MixedSeries(
                        f"{names} share slice position {pos[slot[0]]:.2f} mm and the same "
                        f"{_KEY_NAMES[key[0]]}"
                    )
            for rank, i in enumerate(slot):
                phases[rank].append((pos[i], frames[i]))
        _check_counts([len(p) for p in phases])
        ref = [p for p, _ in phases[0]]
        for k, phase in enumerate(phases[1:], start=2):
            if not np.allclose([p for p, _ in phase], ref, atol=_POSITION_TOL_MM * 10):
                raise MixedSeries(
                    f"phase {k} ({_frame_name(phase[0][1])}) covers different slice positions "
                    "than phase 1"
                )
        return [[f for _, f in p] for p in phases], tuple(round(p, 4) for p in ref)

    if key is not None:
        values = sorted(set(key[1]))
        groups: list[list[_Frame]] = [
            [f for f, v in zip(frames, key[1]) if v == value] for value in values
        ]
    else:
        groups = [list(frames)]
    groups = [sorted(g, key=_fallback_order) for g in groups]
    _check_counts([len(g) for g in groups])
    return groups, None


def _frame_name(frame: _Frame) -> str:
    return frame.source if frame.info.index == 0 else f"{frame.source} frame {frame.info.index + 1}"


def _check_counts(counts: list[int]) -> None:
    if len(set(counts)) > 1:
        raise MixedSeries(
            "the phases have different numbers of slices (" + ", ".join(map(str, counts)) + ")"
        )


def _phase_times(phases: list[list[_Frame]]) -> list[float | None]:
    for attr, scale in (("trigger_ms", 1e-3), ("acquisition_s", 1.0)):
        if all(getattr(f.info, attr) is not None for p in phases for f in p):
            mids = [float(np.median([getattr(f.info, attr) for f in p])) * scale for p in phases]
            return [round(m - mids[0], 3) for m in mids]
    return [None] * len(phases)


# --- rasters --------------------------------------------------------------------------------------


def _raster_study(
    typed: list[tuple[_Item, str]],
    hint: str | None,
    slice_index: int | None,
    limits: Limits,
    notes: list[str],
) -> Study:
    items = sorted((i for i, _ in typed), key=lambda i: natural_key(i.raw.name))
    total = 0
    for item in items:
        total += check_size(item.raw, limits)
        if total > limits.max_total_pixels:
            raise ImageTooLarge(
                f"{item.raw.name}: the upload declares more than {limits.max_total_pixels} pixels in total"
            )
    images: list[RasterImage] = [read_raster(i.raw, limits) for i in items]
    first = images[0]
    for img in images[1:]:
        if img.pixels.shape != first.pixels.shape:
            h0, w0 = first.pixels.shape
            h1, w1 = img.pixels.shape
            raise MixedSeries(f"{first.name} is {w0}x{h0} pixels but {img.name} is {w1}x{h1}")
    stacks = [img.pixels[None] for img in images]
    if all(img.bits == 8 for img in images):
        window = (0.0, 255.0)
    else:
        window = _percentile_window(stacks)
    volumes = _apply_window(stacks, window, invert=False)
    phases = _make_phases(volumes, [None] * len(volumes))
    modality = _normalise_hint(hint) or "OT"
    return _finish(
        modality=modality,
        kind=_kind(modality, set(), set()),
        phases=phases,
        slice_index=slice_index,
        positions=None,
        spacing=None,
        window=window,
        photometric="MONOCHROME2",
        sources=tuple(img.name for img in images),
        syntaxes=_distinct([img.format for img in images]),
        notes=notes,
    )


# --- shared ---------------------------------------------------------------------------------------


def _percentile_window(stacks: list[np.ndarray]) -> tuple[float, float]:
    flat = np.concatenate([s.ravel() for s in stacks])
    if flat.size > _PERCENTILE_SAMPLE:
        flat = flat[:: flat.size // _PERCENTILE_SAMPLE + 1]
    lo, hi = (float(v) for v in np.percentile(flat, [0.5, 99.5]))
    if hi <= lo:
        lo, hi = float(flat.min()), float(flat.max())
    if hi <= lo:
        hi = lo + 1.0
    return (lo, hi)


def _apply_window(stacks: list[np.ndarray], window: tuple[float, float], *, invert: bool) -> list[np.ndarray]:
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


def _make_phases(volumes: list[np.ndarray], times: list[float | None]) -> tuple[Phase, ...]:
    n = len(volumes)
    if n == 1:
        labels = ["image"]
    elif n == 3:
        labels = ["pre", "early", "late"]
    else:
        labels = [f"phase {i + 1}" for i in range(n)]
    return tuple(Phase(label=labels[i], index=i, time_s=times[i], volume=volumes[i]) for i in range(n))


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


def _finish(
    *,
    modality: str,
    kind: str,
    phases: tuple[Phase, ...],
    slice_index: int | None,
    positions: tuple[float, ...] | None,
    spacing: tuple[float, float] | None,
    window: tuple[float, float],
    photometric: str,
    sources: tuple[str, ...],
    syntaxes: tuple[str, ...],
    notes: list[str],
) -> Study:
    study = Study(
        modality=modality,
        kind=kind,
        phases=phases,
        slice_index=default_slice(phases),
        slice_positions_mm=positions,
        pixel_spacing_mm=(float(spacing[0]), float(spacing[1])) if spacing else None,
        window=(float(window[0]), float(window[1])),
        photometric=photometric,
        sources=sources,
        transfer_syntaxes=syntaxes,
        warnings=_distinct(notes),
    )
    return study if slice_index is None else study.with_slice(slice_index)
