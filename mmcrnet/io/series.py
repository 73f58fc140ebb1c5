"""DICOM files -> phases of slice volumes: headers, consistency and identity checks, temporal
ordering, slice sorting, one window and phase times.

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
* Phases are labelled "phase 1", "phase 2", ... ("image" for one phase): the tags give the
  order, not the role. All files must share Patient ID, Study Instance UID and Frame of
  Reference UID where both record them (``allow_mixed_ids`` overrides, with a warning).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
from pydicom.dataset import Dataset

from mmcrnet.errors import ImageTooLarge, MixedIdentity, MixedSeries, NoPixelData, UnreadableImage
from mmcrnet.io.dicom import (
    DecodedDicom,
    DicomHeader,
    FrameInfo,
    decode,
    header_only,
    read_header,
)
from mmcrnet.io.gather import Gather, Item
from mmcrnet.io.modality import normalise_modality, study_kind
from mmcrnet.io.phase import Phase, SliceSource, StudyParts
from mmcrnet.io.sandbox import decode_isolated
from mmcrnet.io.sources import distinct, natural_key
from mmcrnet.io.window import apply_window, percentile_window

_POSITION_TOL_MM = 0.01
_ORIENTATION_TOL = 1e-3
_SPACING_RTOL = 1e-3


@dataclass(frozen=True, eq=False)
class _Frame:
    source: str
    header: Dataset  # the file's header, pixel data removed
    info: FrameInfo
    values: np.ndarray  # (H, W) float32 modality units
    voi: np.ndarray | None
    window: tuple[float, float] | None


def read_dicom_series(files: list[Item], hint: str | None, gather: Gather) -> StudyParts:
    """Read DICOM files into phases of slice volumes sharing one window.

    Args:
        files: the DICOM files of the upload.
        hint: the modality the user gave; the files' own modality wins (with a note if they
            differ).
        gather: options and running notes of this read.

    Raises:
        UnreadableImage: or one of its subclasses, for a file that may not be skipped, or when
            none is left.
        MixedSeries: the files do not form one series (MixedIdentity: not of one patient,
            study and frame of reference, unless ``gather.allow_mixed_ids``).
    """
    limits, notes = gather.limits, gather.notes
    headers: list[DicomHeader] = []
    items: list[Item] = []
    total = 0
    for item in files:
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
        gather.raise_empty()
    override = _check_identity(headers, gather.allow_mixed_ids, notes)
    _check_consistent(headers)

    first = headers[0]
    modality = first.modality
    hint = normalise_modality(hint)
    if hint is not None and hint != modality:
        notes.append(f"the DICOM modality {modality} was used instead of the given modality {hint}")

    has_window = (
        any(f.window is not None for h in headers for f in h.frames)
        or first.samples > 1
        or first.photometric == "PALETTE COLOR"
    )
    want_voi = not has_window and all(h.has_voi_lut for h in headers)
    if gather.isolate:  # untrusted bytes: a decoder that crashes or hangs costs one file
        outcomes = decode_isolated(
            headers, [item.raw for item in items], read_limits=limits, want_voi=want_voi
        )
    else:
        outcomes = [_decode_here(header, want_voi) for header in headers]
    decoded: list[DecodedDicom] = []
    for item, result in zip(items, outcomes):
        if isinstance(result, UnreadableImage):
            if not gather.may_skip(item, result):
                raise result
            continue
        notes.extend(result.warnings)
        decoded.append(result)
    if not decoded:
        gather.raise_empty()
    want_voi = want_voi and all(d.voi is not None for d in decoded)

    headers_only = {id(d): header_only(d.header.dataset) for d in decoded}
    frames = [
        _Frame(
            source=d.header.name,
            header=headers_only[id(d)],
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
        stacks = [np.stack([_voi_values(f) for f in p]) for p in phase_frames]
        ranges = [d.voi_range for d in decoded if d.voi_range is not None]
        window = (min(r[0] for r in ranges), max(r[1] for r in ranges))
    else:
        stacks = [np.stack([f.values for f in p]) for p in phase_frames]
        windows = [f.window for f in frames if f.window is not None]
        if windows:
            window = (min(w[0] for w in windows), max(w[1] for w in windows))
        else:
            window = percentile_window(stacks)
    volumes = apply_window(stacks, window, invert=first.photometric == "MONOCHROME1")
    times = _phase_times(phase_frames)
    n = len(volumes)
    labels = ["image"] if n == 1 else [f"phase {k + 1}" for k in range(n)]
    phases = tuple(
        Phase(
            label=labels[k],
            index=k,
            time_s=times[k],
            volume=volumes[k],
            sources=distinct([f.source for f in phase_frames[k]]),
            slice_sources=tuple(
                SliceSource(f.header, f.info.index, f.info.position, f.info.orientation)
                for f in phase_frames[k]
            ),
        )
        for k in range(n)
    )
    used_headers = [d.header for d in decoded]
    orientation = next(
        (f.orientation for h in used_headers for f in h.frames if f.orientation), None
    )
    return StudyParts(
        modality=modality,
        kind=study_kind(
            modality, {h.body_part for h in used_headers}, {h.sop_class for h in used_headers}
        ),
        phases=phases,
        slice_positions_mm=positions,
        pixel_spacing_mm=first.pixel_spacing,
        window=window,
        photometric=first.photometric,
        sources=distinct([h.name for h in used_headers]),
        transfer_syntaxes=distinct([h.transfer_syntax for h in used_headers]),
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


def _voi_values(frame: _Frame) -> np.ndarray:
    if frame.voi is None:  # VOI values are asked for only when every file was decoded with them
        raise AssertionError(f"frame {frame.info.index} was decoded without its VOI LUT")
    return frame.voi


def _decode_here(header: DicomHeader, want_voi: bool) -> DecodedDicom | UnreadableImage:
    try:
        return decode(header, want_voi=want_voi)
    except UnreadableImage as exc:
        return exc


def _assemble(frames: list[_Frame]) -> tuple[list[list[_Frame]], tuple[float, ...] | None]:
    """Split frames into phases and sort slices; returns phases and slice positions (mm)."""
    normal = _normal(frames)
    key = _temporal_key(frames)
    known = [f.info.position for f in frames if f.info.position is not None]
    if normal is not None and len(known) == len(frames):
        pos = [float(np.dot(p, normal)) for p in known]
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
            names = " and ".join(distinct([_frame_name(frames[i]) for i in dup][:2]))
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
                    names = " and ".join(distinct([_frame_name(frames[i]) for i in slot][:2]))
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
