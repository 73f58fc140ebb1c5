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
* DICOM phases are labelled "phase 1", "phase 2", ... ("image" for one phase): the tags give
  the order, not the role. All files must share Patient ID, Study Instance UID and Frame of
  Reference UID where both record them (``allow_mixed_ids`` overrides, with a warning).
* PNG/JPEG images are never ordered by upload order. Each image's phase comes from its PNG text
  metadata (``phase``, ``time_s``, ``TriggerTime`` in ms) or else its file name: pre /
  precontrast / baseline, early / post1, late / delayed; phase2 / ph2 / p2; 90s / t90s / 360sec.
  When one scheme (roles, then times, then numbers) gives every image a distinct phase, that
  orders them (``phase_source="names"``); otherwise they stay in natural name order, labelled
  by file name, with ``phase_source="unassigned"`` until :meth:`Study.assign_phases`.
"""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import TypeVar

import numpy as np

from mmcrnet.errors import (
    BadArchive,
    EmptyArchive,
    ImageTooLarge,
    InvalidArgument,
    MixedIdentity,
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

    label: str  # what the data says: "phase N" (DICOM), "pre"/"early"/"late", "90 s", a file name
    # for PNG/JPEG images of unknown order; "image" for a single phase
    index: int  # 0-based order after sorting
    time_s: float | None  # seconds after the first phase; None if unknown
    volume: np.ndarray  # (S, H, W) float32 in [0, 1], slices sorted along the slice normal
    sources: tuple[str, ...] = ()  # files this phase was read from


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
    body_part: str | None = None  # DICOM BodyPartExamined, upper-case; None if absent or PNG/JPEG
    orientation: tuple[float, ...] | None = None  # ImageOrientationPatient (6 cosines) if known
    phase_source: str = "dicom"  # "dicom", "single", "names", "user" or "unassigned"
    left_out: tuple[str, ...] = ()  # "name: reason" for every file that was not used
    identity_override: bool = False  # files from different patients/studies accepted on request
    patient_id: str | None = None  # DICOM PatientID all files agree on; None if absent or mixed
    study_uid: str | None = (
        None  # DICOM StudyInstanceUID all files agree on; None if absent or mixed
    )

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
        if (
            not isinstance(index, (int, np.integer))
            or isinstance(index, bool)
            or not 0 <= index < n
        ):
            raise InvalidArgument(
                f"slice index {index!r} is out of range: valid slices are 0..{n - 1}"
            )
        return dataclasses.replace(self, slice_index=int(index))

    def assign_phases(self, times_s: Mapping[str, float]) -> Study:
        """Return a copy with phase times given by the user, e.g. for PNG/JPEG images whose
        order is not known (``phase_source == "unassigned"``).

        Args:
            times_s: seconds after contrast for every phase, keyed by its current label (the
                file names for unassigned images); the pre-contrast phase is 0.

        Returns:
            A copy with phases sorted by time, ``time_s`` set (seconds after the first phase),
            labels "pre" (0 s) or "<t> s", ``phase_source="user"`` and the default slice
            recomputed.

        Raises:
            ValueError: a label is unknown or missing, a time is negative or not finite, or two
                phases get the same time.
        """
        labels = [p.label for p in self.phases]
        for key in times_s:
            if key not in labels:
                raise InvalidArgument(
                    f"phase {key!r} is not in this study: the phases are {labels}"
                )
        for label in labels:
            if label not in times_s:
                raise InvalidArgument(f"phase {label!r} has no time: every phase needs one")
        seen: dict[float, str] = {}
        for label in labels:
            t = times_s[label]
            if (
                isinstance(t, bool)
                or not isinstance(t, (int, float, np.integer, np.floating))
                or not np.isfinite(t)
                or t < 0
            ):
                raise InvalidArgument(f"phase {label!r} has time {t!r}: times must be seconds >= 0")
            if float(t) in seen:
                raise InvalidArgument(
                    f"phase {label!r} has time {float(t):g} s, the same as phase {seen[float(t)]!r}"
                )
            seen[float(t)] = label
        ordered = sorted(self.phases, key=lambda p: float(times_s[p.label]))
        t0 = float(times_s[ordered[0].label])
        phases = tuple(
            dataclasses.replace(
                p,
                label=_time_label(float(times_s[p.label])),
                index=k,
                time_s=round(float(times_s[p.label]) - t0, 3),
            )
            for k, p in enumerate(ordered)
        )
        return dataclasses.replace(
            self,
            phases=phases,
            slice_index=default_slice(phases),
            phase_source="user",
            sources=_distinct([src for p in phases for src in p.sources]) or self.sources,
        )

    def summary(self) -> dict[str, object]:
        """JSON-serialisable description (no pixel data)."""
        return {
            "modality": self.modality,
            "kind": self.kind,
            "phases": [
                {"label": p.label, "index": p.index, "time_s": p.time_s, "sources": list(p.sources)}
                for p in self.phases
            ],
            "shape": list(self.shape),
            "pixel_spacing_mm": list(self.pixel_spacing_mm) if self.pixel_spacing_mm else None,
            "slice_index": self.slice_index,
            "n_slices": self.shape[1],
            "slice_positions_mm": list(self.slice_positions_mm)
            if self.slice_positions_mm
            else None,
            "window": list(self.window),
            "photometric": self.photometric,
            "sources": list(self.sources),
            "transfer_syntaxes": list(self.transfer_syntaxes),
            "warnings": list(self.warnings),
            "body_part": self.body_part,
            "orientation": list(self.orientation) if self.orientation else None,
            "phase_source": self.phase_source,
            "left_out": list(self.left_out),
            "identity_override": self.identity_override,
            "patient_id": self.patient_id,
            "study_uid": self.study_uid,
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
    allow_mixed_ids: bool = False,
    skip_unreadable: bool = False,
) -> Study:
    """Read an upload (DICOM files, a zip of a series, or PNG/JPEG images) into a :class:`Study`.

    Args:
        files: the uploaded files, in memory.
        modality: modality code for PNG/JPEG ("MR", "MG", ...); ignored (with a warning if it
            differs) for DICOM.
        slice_index: slice to show instead of the default choice.
        limits: safety limits.
        allow_mixed_ids: read DICOM files whose Patient ID, Study Instance UID or Frame of
            Reference UID disagree (anonymised series) instead of refusing them; the study is
            then marked ``identity_override`` with a warning. Default False.
        skip_unreadable: leave out files that cannot be read (damaged, not an image, no pixel
            data), listing each in ``Study.left_out``, instead of raising for the first one.
            Size limits and mixed series still raise. Default False.

    Raises:
        UnreadableImage: or one of its subclasses, with a one-line message naming the file.
        MixedSeries: the files do not form one series (MixedIdentity: not of one patient,
            study and frame of reference; ``allow_mixed_ids`` reads them anyway).
        ValueError: ``slice_index`` is out of range.
    """
    gather = _Gather(
        limits=limits, allow_mixed_ids=allow_mixed_ids, skip_unreadable=skip_unreadable
    )
    return _read_items([_Item(f, None) for f in files], modality, slice_index, gather)


def read_paths(
    paths: Sequence[str | os.PathLike[str]],
    *,
    modality: str | None = None,
    slice_index: int | None = None,
    limits: Limits = DEFAULT_LIMITS,
    allow_mixed_ids: bool = False,
    skip_unreadable: bool = False,
) -> Study:
    """Read files and directories (recursed, natural order; sizes checked before reading).

    Non-image files found inside a directory (DICOMDIR, notes) are skipped with a warning and
    listed in ``Study.left_out``; files named explicitly must be images unless
    ``skip_unreadable``. Other arguments as for :func:`read_study`.

    Raises:
        UnreadableImage: a path does not exist or cannot be read; see :func:`read_study`.
    """
    items: list[_Item] = []
    for path in paths:
        container = str(path) if os.path.isdir(path) else None
        items.extend(_Item(raw, container) for raw in read_paths_as_files([path], limits))
    gather = _Gather(
        limits=limits, allow_mixed_ids=allow_mixed_ids, skip_unreadable=skip_unreadable
    )
    return _read_items(items, modality, slice_index, gather)


# --- gathering ------------------------------------------------------------------------------------


@dataclass
class _Gather:
    """Options and running notes of one read."""

    limits: Limits
    allow_mixed_ids: bool
    skip_unreadable: bool
    notes: list[str] = dataclasses.field(default_factory=list)  # become Study.warnings
    left_out: list[str] = dataclasses.field(default_factory=list)  # "name: reason" per file
    first_error: UnreadableImage | None = None  # error of the first top-level file left out

    def leave_out(self, name: str, reason: str) -> None:
        """Record a file that is not used (as a warning and in ``left_out``)."""
        line = reason if reason.startswith(f"{name}:") else f"{name}: {reason}"
        self.notes.append(f"skipped {line}")
        self.left_out.append(line)

    def may_skip(
        self, item: _Item, exc: UnreadableImage, lenient: tuple[type[UnreadableImage], ...] = ()
    ) -> bool:
        """Leave out ``item`` for ``exc`` if allowed: always with ``skip_unreadable``, and for
        files inside a zip/directory when ``exc`` is one of ``lenient``. Size limits, mixed
        series and bad archives are never skipped."""
        if isinstance(exc, (ImageTooLarge, MixedSeries, BadArchive)):
            return False
        if not self.skip_unreadable and (item.container is None or not isinstance(exc, lenient)):
            return False
        if item.container is None and self.first_error is None:
            self.first_error = exc
        self.leave_out(item.raw.name, str(exc))
        return True


def _read_items(
    items: list[_Item],
    modality: str | None,
    slice_index: int | None,
    gather: _Gather,
) -> Study:
    if not items:
        raise UnreadableImage("no files were given")
    limits = gather.limits
    typed: list[tuple[_Item, str]] = []
    containers: dict[str, None] = {}  # zips and directories seen, in order
    for item in items:
        raw = item.raw
        if len(raw.data) > limits.max_file_bytes:
            raise ImageTooLarge(
                f"{raw.name}: file is {len(raw.data)} bytes, more than the limit of "
                f"{limits.max_file_bytes}"
            )
        if item.container is not None:
            containers.setdefault(item.container, None)
        try:
            kind = sniff(raw)
        except WrongFileType as exc:
            if not gather.may_skip(item, exc, (WrongFileType,)):
                raise
            continue
        if kind == "zip":
            if item.container is not None:
                gather.leave_out(raw.name, "nested archives are not expanded")
                continue
            members, zip_notes = expand_zip(raw, limits)
            gather.notes.extend(zip_notes)
            containers[raw.name] = None
            for member in members:
                member_item = _Item(member, raw.name)
                try:
                    member_kind = sniff(member)
                except WrongFileType as exc:
                    gather.may_skip(member_item, exc, (WrongFileType,))
                    continue
                if member_kind == "zip":
                    gather.leave_out(member.name, "nested archives are not expanded")
                    continue
                typed.append((member_item, member_kind))
        else:
            typed.append((item, kind))

    kinds = {"dicom" if k == "dicom" else "raster" for _, k in typed}
    if len(kinds) > 1:
        dicom_name = next(i.raw.name for i, k in typed if k == "dicom")
        raster_name = next(i.raw.name for i, k in typed if k != "dicom")
        raise MixedSeries(
            f"{dicom_name} is DICOM but {raster_name} is a PNG/JPEG image; upload one kind at "
            "a time"
        )
    if kinds == {"dicom"}:
        return _dicom_study(typed, containers, modality, slice_index, gather)
    if kinds == {"raster"}:
        return _raster_study(typed, containers, modality, slice_index, gather)
    _raise_empty(containers, gather)
    raise UnreadableImage(
        "no readable image in the upload"
    )  # pragma: no cover - _raise_empty raises


def _raise_empty(containers: dict[str, None], gather: _Gather) -> None:
    """Nothing readable remains: raise the first left-out file's error, else for the first
    archive/directory that yielded no image."""
    if gather.first_error is not None:
        raise gather.first_error
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
    gather: _Gather,
) -> Study:
    limits, notes = gather.limits, gather.notes
    headers: list[DicomHeader] = []
    items: list[_Item] = []
    total = 0
    for item, _ in typed:
        try:
            header = read_header(item.raw, limits)
        except UnreadableImage as exc:
            if not gather.may_skip(item, exc, (NoPixelData,)):
                raise
            continue
        total += header.declared_pixels
        if total > limits.max_total_pixels:
            raise ImageTooLarge(
                f"{header.name}: the upload declares more than {limits.max_total_pixels} "
                "pixels in total"
            )
        headers.append(header)
        items.append(item)
        notes.extend(header.warnings)
    if not headers:
        _raise_empty(containers, gather)
    override = _check_identity(headers, gather.allow_mixed_ids, notes)
    _check_consistent(headers)

    first = headers[0]
    modality = first.modality
    hint = _normalise_hint(hint)
    if hint is not None and hint != modality:
        notes.append(f"the DICOM modality {modality} was used instead of the given modality {hint}")

    has_window = (
        any(f.window is not None for h in headers for f in h.frames)
        or first.samples > 1
        or first.photometric == "PALETTE COLOR"
    )
    want_voi = not has_window and all(h.has_voi_lut for h in headers)
    decoded: list[DecodedDicom] = []
    for header, item in zip(headers, items):
        try:
            result = decode(header, want_voi=want_voi)
        except UnreadableImage as exc:
            if not gather.may_skip(item, exc):
                raise
            continue
        notes.extend(result.warnings)
        decoded.append(result)
    if not decoded:
        _raise_empty(containers, gather)
    want_voi = want_voi and all(d.voi is not None for d in decoded)

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
    n = len(volumes)
    labels = ["image"] if n == 1 else [f"phase {k + 1}" for k in range(n)]
    phases = tuple(
        Phase(
            label=labels[k],
            index=k,
            time_s=times[k],
            volume=volumes[k],
            sources=_distinct([f.source for f in phase_frames[k]]),
        )
        for k in range(n)
    )
    used_headers = [d.header for d in decoded]
    orientation = next(
        (f.orientation for h in used_headers for f in h.frames if f.orientation), None
    )
    return _finish(
        modality=modality,
        kind=_kind(
            modality, {h.body_part for h in used_headers}, {h.sop_class for h in used_headers}
        ),
        phases=phases,
        slice_index=slice_index,
        positions=positions,
        spacing=first.pixel_spacing,
        window=window,
        photometric=first.photometric,
        sources=_distinct([h.name for h in used_headers]),
        syntaxes=_distinct([h.transfer_syntax for h in used_headers]),
        gather=gather,
        phase_source="single" if n == 1 else "dicom",
        body_part=next((h.body_part for h in used_headers if h.body_part), None),
        orientation=tuple(float(v) for v in orientation) if orientation else None,
        identity_override=override,
        patient_id=_shared(h.patient_id for h in used_headers),
        study_uid=_shared(h.study_uid for h in used_headers),
    )


_IDENTITY = (
    ("patient_id", "Patient ID", "files from different patients cannot be predicted together"),
    (
        "study_uid",
        "Study Instance UID",
        "files from different studies cannot be predicted together",
    ),
    (
        "frame_of_reference",
        "Frame of Reference UID",
        "files in different frames of reference are not aligned and cannot be predicted together",
    ),
)


def _check_identity(headers: list[DicomHeader], allow: bool, notes: list[str]) -> bool:
    """All files must come from one patient, study and frame of reference (where recorded).

    Returns True when a disagreement was accepted because ``allow`` is set (a warning per
    attribute is added to ``notes``).

    Raises:
        MixedSeries: two files disagree and ``allow`` is False.
    """
    overridden = False
    for attr, title, why in _IDENTITY:
        ref = next((h for h in headers if getattr(h, attr) is not None), None)
        if ref is None:
            continue
        other = next(
            (
                h
                for h in headers
                if getattr(h, attr) is not None and getattr(h, attr) != getattr(ref, attr)
            ),
            None,
        )
        if other is None:
            continue
        clash = (
            f"{other.name} has {title} '{getattr(other, attr)}' but {ref.name} has "
            f"'{getattr(ref, attr)}'"
        )
        if not allow:
            raise MixedIdentity(f"{clash}: {why}")
        notes.append(f"{clash}; the files were read together because mixed IDs were allowed")
        overridden = True
    return overridden


def _shared(values: Iterable[str | None]) -> str | None:
    """The one value all files agree on; None when absent or when they disagree."""
    distinct = {v for v in values if v is not None}
    return distinct.pop() if len(distinct) == 1 else None


def _check_consistent(headers: list[DicomHeader]) -> None:
    """All files must share size, orientation, pixel spacing, modality and colour model."""
    first = headers[0]
    ref_orientation = next(
        (f.orientation for h in headers for f in h.frames if f.orientation), None
    )
    for h in headers:
        if (h.rows, h.columns) != (first.rows, first.columns):
            raise MixedSeries(
                f"{first.name} is {first.rows}x{first.columns} but {h.name} is "
                f"{h.rows}x{h.columns} "
                "(Rows x Columns differ)"
            )
        if h.modality != first.modality:
            raise MixedSeries(
                f"{first.name} is modality {first.modality} but {h.name} is {h.modality}"
            )
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
            if (
                ref_orientation is not None
                and f.orientation is not None
                and not np.allclose(f.orientation, ref_orientation, atol=_ORIENTATION_TOL)
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
    return (
        inst is None,
        inst if inst is not None else 0,
        natural_key(frame.source),
        frame.info.index,
    )


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
    containers: dict[str, None],
    hint: str | None,
    slice_index: int | None,
    gather: _Gather,
) -> Study:
    limits = gather.limits
    items = sorted((i for i, _ in typed), key=lambda i: natural_key(i.raw.name))
    sized: list[_Item] = []
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
        _raise_empty(containers, gather)
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
        window = _percentile_window(stacks)
    volumes = _apply_window(stacks, window, invert=False)
    phases = tuple(
        Phase(
            label=labels[k], index=k, time_s=times[k], volume=volumes[k], sources=(images[k].name,)
        )
        for k in range(len(images))
    )
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
        gather=gather,
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
            labels.append(_time_label(usable["times"][i]))
        else:
            labels.append(f"phase {hint.number}")
    return order, labels, times, "names", None


def _time_label(t: float) -> str:
    return "pre" if t == 0 else f"{t:g} s"


def _distinct_labels(names: list[str]) -> list[str]:
    """File names as labels, with " (2)", " (3)" ... appended to repeats."""
    seen: dict[str, int] = {}
    out = []
    for name in names:
        seen[name] = seen.get(name, 0) + 1
        out.append(name if seen[name] == 1 else f"{name} ({seen[name]})")
    return out


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


def _apply_window(
    stacks: list[np.ndarray], window: tuple[float, float], *, invert: bool
) -> list[np.ndarray]:
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
    gather: _Gather,
    phase_source: str,
    body_part: str | None = None,
    orientation: tuple[float, ...] | None = None,
    identity_override: bool = False,
    patient_id: str | None = None,
    study_uid: str | None = None,
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
        warnings=_distinct(gather.notes),
        body_part=body_part,
        orientation=orientation,
        phase_source=phase_source,
        left_out=tuple(gather.left_out),
        identity_override=identity_override,
        patient_id=patient_id,
        study_uid=study_uid,
    )
    return study if slice_index is None else study.with_slice(slice_index)
