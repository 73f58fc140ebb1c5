"""One DICOM file: parse the header (with safety checks), extract per-frame geometry and timing,
decode the pixels and apply the modality LUT (and a VOI LUT when asked).

Windowing to [0, 1] is done for the whole series in :mod:`mmcrnet.io.series` (with
:mod:`mmcrnet.io.window`), because all phases of a DCE series must share one window.
"""

from __future__ import annotations

import datetime as _dt
import logging
import re
import struct
import threading
import warnings
import zlib
from dataclasses import dataclass
from io import BytesIO
from typing import Any

import numpy as np
from pydicom import dcmread
from pydicom.dataset import Dataset
from pydicom.errors import BytesLengthException, InvalidDicomError
from pydicom.pixels import apply_color_lut, apply_modality_lut, apply_voi, get_decoder, pixel_array
from pydicom.uid import (
    UID,
    ExplicitVRBigEndian,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
)

from mmcrnet.errors import CorruptDicom, ImageTooLarge, NoPixelData, UnsupportedImage
from mmcrnet.io.sources import DEFAULT_LIMITS, Limits, RawFile

_PARSE_ERRORS: tuple[type[BaseException], ...] = (
    InvalidDicomError,
    BytesLengthException,
    ValueError,
    EOFError,
    OSError,
    KeyError,
    IndexError,
    TypeError,
    AttributeError,
    NotImplementedError,
    OverflowError,
    RecursionError,
    StopIteration,
    zlib.error,
    struct.error,
)
_DEFLATED = b"1.2.840.10008.1.2.1.99"
_INFLATE_CHUNK = 1 << 20
_GRAY = ("MONOCHROME1", "MONOCHROME2")
_COLOUR = (
    "RGB",
    "YBR_FULL",
    "YBR_FULL_422",
    "YBR_ICT",
    "YBR_RCT",
    "YBR_PARTIAL_420",
    "PALETTE COLOR",
)
_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float64)
_MAX_WARNINGS_PER_FILE = 5
# warnings.catch_warnings swaps process-global state: serialise it so that concurrent sessions
# (Streamlit runs each in a thread) never record each other's parser warnings.
_WARNINGS_LOCK = threading.Lock()


@dataclass(frozen=True)
class FrameInfo:
    """Geometry and timing of one frame (from the per-frame functional groups when present)."""

    index: int  # 0-based frame number within the file
    position: tuple[float, ...] | None  # ImagePositionPatient (mm): 3 values
    orientation: tuple[float, ...] | None  # ImageOrientationPatient: row then column cosines
    instance_number: int | None
    temporal_index: int | None  # TemporalPositionIdentifier, or TemporalPositionIndex per frame
    trigger_ms: float | None  # TriggerTime, or TemporalPositionTimeOffset * 1000 per frame
    acquisition_s: float | None  # acquisition date/time in seconds (date included when known)
    window: tuple[float, float] | None  # (lo, hi) = (c - w/2, c + w/2) from the first window
    rescale: tuple[float, float] | None  # per-frame (slope, intercept) from functional groups


@dataclass(frozen=True, eq=False)
class DicomHeader:
    """A parsed DICOM with image attributes checked; pixels not decoded yet."""

    name: str
    dataset: Dataset
    modality: str
    body_part: str
    sop_class: str  # SOP class name, e.g. "MR Image Storage"
    transfer_syntax: str  # transfer syntax name, e.g. "JPEG-LS Lossless Image Compression"
    rows: int
    columns: int
    samples: int
    n_frames: int
    photometric: str
    pixel_spacing: tuple[float, float] | None  # (row, col) mm
    has_voi_lut: bool
    frames: tuple[FrameInfo, ...]
    warnings: tuple[str, ...]
    patient_id: str | None = None  # PatientID, stripped; None if absent or empty
    study_uid: str | None = None  # StudyInstanceUID
    frame_of_reference: str | None = None  # FrameOfReferenceUID

    @property
    def declared_pixels(self) -> int:
        """Rows * Columns * samples * frames as declared by the header."""
        return self.rows * self.columns * self.samples * self.n_frames


@dataclass(frozen=True, eq=False)
class DecodedDicom:
    """Decoded frames in modality units (luminance for colour images)."""

    header: DicomHeader
    values: np.ndarray  # (F, H, W) float32 after the modality LUT / rescale
    voi: np.ndarray | None  # (F, H, W) float32 after the VOI LUT (only when requested)
    voi_range: tuple[float, float] | None  # output range of the VOI LUT
    colour_range: tuple[float, float] | None  # (0, max) for colour images, else None
    warnings: tuple[str, ...]


def _one_line(text: object) -> str:
    """One line of an exception's text (its type's name when it has none, as StopIteration)."""
    line = " ".join(str(text).split())
    return line or (type(text).__name__ if isinstance(text, BaseException) else "")


def _warning_text(message: object) -> str:
    """A parser warning without the values it quotes (they can carry names or IDs): pydicom
    says e.g. "Invalid value for VR UI: '1.2.SMITH'"; we keep only which VR was wrong."""
    vr = re.search(r"\bVR '?([A-Z]{2})\b", str(message))
    if vr:
        return f"a value of VR {vr.group(1)} does not follow the DICOM standard"
    return "a header element does not follow the DICOM standard"


class _RedactValues(logging.Filter):
    """pydicom logs each warning as well as raising it; the log gets the redacted text."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.ERROR:
            record.msg, record.args = _warning_text(record.getMessage()), ()
        return True


logging.getLogger("pydicom").addFilter(_RedactValues())


def _record(name: str, caught: list[warnings.WarningMessage]) -> list[str]:
    seen: list[str] = []
    for w in caught:
        msg = f"{name}: {_warning_text(w.message)}"
        if msg not in seen:
            seen.append(msg)
    if len(seen) > _MAX_WARNINGS_PER_FILE:
        extra = len(seen) - _MAX_WARNINGS_PER_FILE
        seen = seen[:_MAX_WARNINGS_PER_FILE] + [f"{name}: {extra} more DICOM parser warnings"]
    return seen


def _check_inflated_size(raw: RawFile, limits: Limits) -> None:
    """For a deflated DICOM, inflate in bounded chunks (nothing kept) and refuse it when the
    data set would be larger than ``limits.max_file_bytes``: pydicom inflates all of it at once,
    so a 1 MB file could otherwise cost gigabytes before any other limit is checked.

    Raises:
        ImageTooLarge: the inflated data set exceeds the limit.
        CorruptDicom: the deflate stream is damaged.
    """
    start = _meta_end(raw.data)
    if start is None or _DEFLATED not in raw.data[:start]:
        return
    inflater = zlib.decompressobj(-zlib.MAX_WBITS)
    pending, total = raw.data[start:], 0
    try:
        while pending and not inflater.eof:
            total += len(inflater.decompress(pending, _INFLATE_CHUNK))
            pending = inflater.unconsumed_tail
            if total > limits.max_file_bytes:
                raise ImageTooLarge(
                    f"{raw.name}: the deflated data set inflates to more than the limit of "
                    f"{limits.max_file_bytes} bytes"
                )
    except zlib.error as exc:
        raise CorruptDicom(f"{raw.name}: the deflated data set is damaged ({exc})") from exc


def _meta_end(data: bytes) -> int | None:
    """Offset just after the file meta group of a file with a preamble (from its group length
    (0002,0000)); None without a preamble or a readable group length."""
    if len(data) < 144 or data[128:132] != b"DICM" or data[132:136] != b"\x02\x00\x00\x00":
        return None
    # explicit VR: tag, "UL", 2-byte length; implicit VR: tag, 4-byte length; then the value
    if data[136:138] != b"UL" and data[136:140] != b"\x04\x00\x00\x00":
        return None
    (length,) = struct.unpack("<I", data[140:144])
    return 144 + int(length)


def parse(raw: RawFile, limits: Limits = DEFAULT_LIMITS) -> tuple[Dataset, list[str]]:
    """Parse DICOM bytes fully (every element converted) and return the dataset and warnings.

    Raises:
        CorruptDicom: pydicom cannot parse the file (truncated header, garbage after 'DICM').
        ImageTooLarge: a deflated data set that inflates beyond the limits.
    """
    has_preamble = len(raw.data) >= 132 and raw.data[128:132] == b"DICM"
    _check_inflated_size(raw, limits)
    with _WARNINGS_LOCK, warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            ds = dcmread(BytesIO(raw.data), force=not has_preamble)
            # convert lazily-parsed elements now (file meta included), inside the handler
            for _ in ds.iterall():
                pass
            for _ in ds.file_meta.iterall():
                pass
        except _PARSE_ERRORS as exc:
            raise CorruptDicom(
                f"{raw.name}: cannot parse the DICOM data ({_one_line(exc)})"
            ) from exc
    if "SOPClassUID" not in ds and "PixelData" not in ds:
        meta_sop = ds.file_meta.get("MediaStorageSOPClassUID") if ds.file_meta else None
        if meta_sop is None:
            raise CorruptDicom(
                f"{raw.name}: no SOP Class UID and no pixel data; the DICOM file is truncated or "
                "damaged"
            )
    return ds, _record(raw.name, caught)


def _holds_pixels(tag: int) -> bool:
    """Pixel data (group 7FE0) and overlay planes (60xx, which can carry burned-in text)."""
    group = tag >> 16
    return group == 0x7FE0 or (0x6000 <= group <= 0x60FF and group % 2 == 0)


def header_only(ds: Dataset) -> Dataset:
    """A copy of ``ds`` without its pixel and overlay data, private elements and icon image
    (file meta kept): what a DICOM result needs to reference its source, at a few kilobytes
    instead of the image's size (private groups, e.g. a scanner's protocol, can be tens of
    kilobytes a file)."""
    out = Dataset()
    for element in ds:
        tag = int(element.tag)
        if not _holds_pixels(tag) and not element.tag.is_private and tag != 0x00880200:
            out.add(element)  # (0088,0200) is the Icon Image Sequence
    if getattr(ds, "file_meta", None) is not None:
        out.file_meta = ds.file_meta
    return out


def file_bytes(ds: Dataset) -> bytes:
    """``ds`` as a DICOM file (preamble and file meta), in memory."""
    buffer = BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


def _sop_name(ds: Dataset) -> str:
    uid = ds.get("SOPClassUID") or (
        ds.file_meta.get("MediaStorageSOPClassUID") if ds.file_meta else None
    )
    if uid is None:
        return "unknown SOP class"
    return _uid_label(str(uid), "SOP class")


_UID_SYNTAX = re.compile(r"[0-9][0-9.]{0,63}")


def _uid_label(uid: str, what: str) -> str:
    """A UID's name, the UID when it is a well-formed unknown one, else "an invalid <what>":
    messages never echo arbitrary header bytes."""
    uid = uid.strip("\x00 ")
    name = UID(uid).name if _UID_SYNTAX.fullmatch(uid) else ""
    if name and name != uid:
        return name
    return uid if _UID_SYNTAX.fullmatch(uid) else f"an invalid {what} UID"


def _clip(value: str, limit: int = 32) -> str:
    """A header value for a message: printable, one line, at most ``limit`` characters."""
    text = "".join(c if c.isprintable() else "?" for c in value)
    return text if len(text) <= limit else text[:limit] + "..."


def _transfer_syntax(ds: Dataset) -> UID:
    """Return the transfer syntax, filling it in from the parse encoding for preamble-less files."""
    tsyntax = ds.file_meta.get("TransferSyntaxUID") if ds.file_meta else None
    if tsyntax is None:
        implicit, little = ds.original_encoding
        if implicit:
            tsyntax = ImplicitVRLittleEndian
        else:
            tsyntax = ExplicitVRLittleEndian if little in (True, None) else ExplicitVRBigEndian
        ds.file_meta.TransferSyntaxUID = tsyntax
    return UID(str(tsyntax))


def _floats(value: Any, n: int) -> tuple[float, ...] | None:
    if value is None:
        return None
    items = [value] if isinstance(value, (str, bytes, int, float)) else list(value)
    try:
        vals = tuple(float(v) for v in items)
    except (TypeError, ValueError):
        return None
    if len(vals) != n or not all(np.isfinite(vals)):
        return None
    return vals


def _first_float(value: Any) -> float | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str) and hasattr(value, "__len__"):
        if len(value) == 0:
            return None
        value = value[0]
    try:
        out = float(value)
    except (TypeError, ValueError):
        return None
    return out if np.isfinite(out) else None


def _text(value: Any) -> str | None:
    """A string attribute stripped of padding; None when absent or empty."""
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def _int(value: Any) -> int | None:
    f = _first_float(value)
    return int(f) if f is not None else None


def _tm_seconds(tm: str) -> float | None:
    text = str(tm).strip().replace(":", "")
    if len(text) < 2 or not text[:2].isdigit():
        return None
    try:
        hours = int(text[0:2])
        minutes = int(text[2:4]) if len(text) >= 4 else 0
        seconds = float(text[4:]) if len(text) > 4 else 0.0
    except ValueError:
        return None
    return hours * 3600.0 + minutes * 60.0 + seconds


def _da_seconds(da: str) -> float | None:
    text = str(da).strip().replace(".", "")
    try:
        day = _dt.date(int(text[0:4]), int(text[4:6]), int(text[6:8]))
    except (ValueError, IndexError):
        return None
    return day.toordinal() * 86400.0


def _dt_seconds(value: str) -> float | None:
    text = str(value).strip()
    for sep in ("+", "-"):
        if sep in text[8:]:
            text = text[: 8 + text[8:].index(sep)]  # drop the UTC offset
    if len(text) < 8:
        return None
    day = _da_seconds(text[:8])
    if day is None:
        return None
    tod = _tm_seconds(text[8:]) if len(text) > 8 else 0.0
    return day + (tod or 0.0)


def _acquisition_seconds(ds: Dataset) -> float | None:
    if ds.get("AcquisitionDateTime"):
        return _dt_seconds(ds.AcquisitionDateTime)
    if ds.get("AcquisitionTime"):
        tod = _tm_seconds(ds.AcquisitionTime)
        if tod is None:
            return None
        day = _da_seconds(ds.AcquisitionDate) if ds.get("AcquisitionDate") else None
        return tod + (day or 0.0)
    return None


def _window(ds: Dataset) -> tuple[float, float] | None:
    centre, width = _first_float(ds.get("WindowCenter")), _first_float(ds.get("WindowWidth"))
    if centre is None or width is None or width <= 0:
        return None
    return (centre - width / 2.0, centre + width / 2.0)


def _group_item(
    ds: Dataset, frame_item: Dataset | None, shared: Dataset | None, seq: str
) -> Dataset | None:
    for holder in (frame_item, shared):
        if holder is not None and holder.get(seq):
            return holder.get(seq)[0]
    return None


def _frames(ds: Dataset, n_frames: int) -> tuple[FrameInfo, ...]:
    """Per-frame metadata; functional groups win over top-level attributes."""
    per_frame = ds.get("PerFrameFunctionalGroupsSequence")
    shared_seq = ds.get("SharedFunctionalGroupsSequence")
    shared = shared_seq[0] if shared_seq else None
    if per_frame is not None and len(per_frame) != n_frames:
        per_frame = None
    enhanced = per_frame is not None or shared is not None
    top_orientation = _floats(ds.get("ImageOrientationPatient"), 6)
    top_position = _floats(ds.get("ImagePositionPatient"), 3) if n_frames == 1 else None
    instance = _int(ds.get("InstanceNumber"))
    top_tpi = _int(ds.get("TemporalPositionIdentifier"))
    top_trigger = _first_float(ds.get("TriggerTime"))
    top_acq = _acquisition_seconds(ds)
    top_window = _window(ds)
    frames = []
    for i in range(n_frames):
        position, orientation = top_position, top_orientation
        tpi, trigger, acq, window, rescale = top_tpi, top_trigger, top_acq, top_window, None
        if enhanced:
            item = per_frame[i] if per_frame is not None else None
            plane = _group_item(ds, item, shared, "PlanePositionSequence")
            if plane is not None:
                position = _floats(plane.get("ImagePositionPatient"), 3)
            orient = _group_item(ds, item, shared, "PlaneOrientationSequence")
            if orient is not None:
                orientation = _floats(orient.get("ImageOrientationPatient"), 6) or orientation
            content = _group_item(ds, item, shared, "FrameContentSequence")
            if content is not None:
                if "TemporalPositionIndex" in content:
                    tpi = _int(content.TemporalPositionIndex)
                if content.get("FrameAcquisitionDateTime"):
                    acq = _dt_seconds(content.FrameAcquisitionDateTime)
            temporal = _group_item(ds, item, shared, "TemporalPositionSequence")
            if temporal is not None and "TemporalPositionTimeOffset" in temporal:
                offset = _first_float(temporal.TemporalPositionTimeOffset)
                trigger = offset * 1000.0 if offset is not None else trigger
            voi = _group_item(ds, item, shared, "FrameVOILUTSequence")
            if voi is not None:
                window = _window(voi) or window
            pvt = _group_item(ds, item, shared, "PixelValueTransformationSequence")
            if pvt is not None:
                slope = _first_float(pvt.get("RescaleSlope"))
                intercept = _first_float(pvt.get("RescaleIntercept"))
                if slope is not None and intercept is not None:
                    rescale = (slope, intercept)
        frames.append(
            FrameInfo(
                index=i,
                position=position,
                orientation=orientation,
                instance_number=instance,
                temporal_index=tpi,
                trigger_ms=trigger,
                acquisition_s=acq,
                window=window,
                rescale=rescale,
            )
        )
    return tuple(frames)


def _pixel_spacing(ds: Dataset) -> tuple[float, float] | None:
    """(row, col) spacing in mm: functional groups (shared, then first frame), then
    PixelSpacing, then ImagerPixelSpacing (projection images such as mammograms)."""
    for groups in ("SharedFunctionalGroupsSequence", "PerFrameFunctionalGroupsSequence"):
        sequence = ds.get(groups)
        measures = sequence[0].get("PixelMeasuresSequence") if sequence else None
        if measures:
            spacing = _floats(measures[0].get("PixelSpacing"), 2)
            if spacing is not None:
                return spacing[0], spacing[1]
    for keyword in ("PixelSpacing", "ImagerPixelSpacing"):
        spacing = _floats(ds.get(keyword), 2)
        if spacing is not None and spacing[0] > 0 and spacing[1] > 0:
            return spacing[0], spacing[1]
    return None


def read_header(raw: RawFile, limits: Limits) -> DicomHeader:
    """Parse a DICOM file and check it is a decodable image within the limits (no decoding).

    Raises:
        CorruptDicom: unparsable, truncated before the pixel data, or missing image attributes.
        NoPixelData: a valid non-image object (SR, RT plan, DICOMDIR, waveform...).
        UnsupportedImage: no decoder for the transfer syntax, or an unsupported colour model.
        ImageTooLarge: Rows*Columns*samples (per frame or over all frames) exceeds the limits.
    """
    ds, notes = parse(raw, limits)
    name = raw.name
    if "PixelData" not in ds:
        sop = _sop_name(ds)
        if "FloatPixelData" in ds or "DoubleFloatPixelData" in ds:
            raise UnsupportedImage(f"{name}: floating-point pixel data ({sop}) is not supported")
        if "Image Storage" in sop or "Rows" in ds:
            raise CorruptDicom(f"{name}: {sop} file has no pixel data; it is truncated or damaged")
        raise NoPixelData(f"{name}: holds no image (it is a {sop} object)")
    rows, columns = _int(ds.get("Rows")), _int(ds.get("Columns"))
    samples = _int(ds.get("SamplesPerPixel")) or 1
    n_frames = _int(ds.get("NumberOfFrames")) or 1
    bits = _int(ds.get("BitsAllocated"))
    photometric = str(ds.get("PhotometricInterpretation", "")).strip().upper()
    if not rows or not columns or rows < 0 or columns < 0:
        raise CorruptDicom(f"{name}: Rows/Columns missing or invalid ({rows}x{columns})")
    if not bits:
        raise CorruptDicom(f"{name}: Bits Allocated is missing")
    if samples < 1 or n_frames < 1:
        raise CorruptDicom(
            f"{name}: Samples per Pixel ({samples}) or Number of Frames ({n_frames}) is invalid"
        )
    per_frame = rows * columns * samples
    if per_frame > limits.max_pixels_per_image:
        raise ImageTooLarge(
            f"{name}: header declares {rows}x{columns}x{samples} = {per_frame} pixels per "
            "frame, "
            f"more than the limit of {limits.max_pixels_per_image}"
        )
    if per_frame * n_frames > limits.max_total_pixels:
        raise ImageTooLarge(
            f"{name}: header declares {n_frames} frames of {per_frame} pixels, more than the "
            f"limit of {limits.max_total_pixels} in total"
        )
    if photometric not in _GRAY + _COLOUR:
        raise UnsupportedImage(
            f"{name}: photometric interpretation '{_clip(photometric)}' is not supported"
        )
    tsyntax = _transfer_syntax(ds)
    _check_decoder(name, tsyntax)
    _check_pixel_data_length(name, ds, tsyntax, rows * columns * samples, bits, n_frames)
    frames = _frames(ds, n_frames)
    return DicomHeader(
        name=name,
        dataset=ds,
        modality=str(ds.get("Modality") or "OT").strip().upper() or "OT",
        body_part=str(ds.get("BodyPartExamined") or "").strip().upper(),
        sop_class=_sop_name(ds),
        transfer_syntax=tsyntax.name or str(tsyntax),
        rows=rows,
        columns=columns,
        samples=samples,
        n_frames=n_frames,
        photometric=photometric,
        pixel_spacing=_pixel_spacing(ds),
        has_voi_lut=bool(ds.get("VOILUTSequence")),
        frames=frames,
        warnings=tuple(notes),
        patient_id=_text(ds.get("PatientID")),
        study_uid=_text(ds.get("StudyInstanceUID")),
        frame_of_reference=_text(ds.get("FrameOfReferenceUID")),
    )


def _check_pixel_data_length(
    name: str, ds: Dataset, tsyntax: UID, per_frame: int, bits: int, n_frames: int
) -> None:
    """Refuse a header that declares more than its pixel data can hold, before any decoding
    (a 424-byte file can declare 30 million frames).

    Native data must hold every declared bit; encapsulated data needs at least one 8-byte item
    per frame.

    Raises:
        CorruptDicom: the declared frames cannot be in the data.
    """
    pixel_data = ds.get("PixelData")
    held = len(pixel_data) if isinstance(pixel_data, bytes | bytearray) else 0
    if tsyntax.is_encapsulated:
        if n_frames * 8 > held:
            raise CorruptDicom(
                f"{name}: the header declares {n_frames} frames but the {held}-byte pixel data "
                f"can hold at most {held // 8}"
            )
        return
    needed = (per_frame * n_frames * bits + 7) // 8
    if held < needed:
        raise CorruptDicom(
            f"{name}: the pixel data holds {held} bytes but the header declares {needed} "
            f"({n_frames} frames); the file is truncated or its header is wrong"
        )


def _check_decoder(name: str, tsyntax: UID) -> None:
    try:
        decoder = get_decoder(tsyntax)
    except NotImplementedError as exc:
        label = tsyntax.name or str(tsyntax)
        raise UnsupportedImage(
            f"{name}: no decoder for transfer syntax '{_uid_label(label, 'transfer syntax')}'"
        ) from exc
    if not decoder.is_available:
        label = tsyntax.name or str(tsyntax)
        raise UnsupportedImage(f"{name}: no installed decoder plugin can read '{label}'")


def decode(
    header: DicomHeader, *, decoding_plugin: str = "", want_voi: bool = False
) -> DecodedDicom:
    """Decode all frames and apply the modality LUT (or per-frame rescale); colour -> luminance.

    Args:
        header: from :func:`read_header`.
        decoding_plugin: force a pydicom decoder plugin ("" lets pydicom choose).
        want_voi: also apply the VOI LUT Sequence (used when no file carries a window).

    Returns:
        Frames as ``(F, H, W)`` float32.

    Raises:
        CorruptDicom: the pixel data is truncated or cannot be decoded.
        UnsupportedImage: no usable decoder plugin.
    """
    ds, name = header.dataset, header.name
    with _WARNINGS_LOCK, warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        raw = _decode_pixels(ds, name, decoding_plugin)
        shape: tuple[int, ...] = (header.n_frames, header.rows, header.columns)
        if header.samples > 1:
            shape += (header.samples,)
        if raw.size != int(np.prod(shape)):
            raise CorruptDicom(
                f"{name}: decoded {raw.shape} pixels but the header declares {shape}"
            )
        arr = raw.reshape(shape)
        colour_range = None
        if header.photometric == "PALETTE COLOR":
            try:
                arr = apply_color_lut(arr, ds)
            except (ValueError, KeyError, AttributeError, IndexError, TypeError) as exc:
                raise CorruptDicom(
                    f"{name}: invalid palette colour lookup table ({_one_line(exc)})"
                ) from exc
            top = float(np.iinfo(arr.dtype).max) if arr.dtype.kind in "ui" else float(arr.max())
            colour_range = (0.0, top)
        elif header.samples == 3:
            bits_stored = _int(ds.get("BitsStored")) or _int(ds.get("BitsAllocated")) or 8
            colour_range = (0.0, float(2**bits_stored - 1))
        if colour_range is not None:
            if arr.ndim != 4 or arr.shape[-1] != 3:
                raise CorruptDicom(f"{name}: colour pixel data has unexpected shape {arr.shape}")
            values = (arr.astype(np.float64) @ _LUMA).astype(np.float32)
            voi, voi_range = None, None
        else:
            values = _modality(arr, header)
            voi, voi_range = (
                _voi(values, header) if want_voi and header.has_voi_lut else (None, None)
            )
    return DecodedDicom(
        header=header,
        values=values,
        voi=voi,
        voi_range=voi_range,
        colour_range=colour_range,
        warnings=tuple(_record(name, caught)),
    )


def _decode_pixels(ds: Dataset, name: str, plugin: str) -> np.ndarray:
    try:
        return pixel_array(ds, decoding_plugin=plugin)
    except NotImplementedError as exc:
        raise UnsupportedImage(f"{name}: cannot decode this pixel data ({_one_line(exc)})") from exc
    except RuntimeError as exc:
        text = _one_line(exc)
        lowered = text.lower()
        if any(
            s in lowered
            for s in ("missing dependencies", "no decoding plugins", "is not available")
        ):
            raise UnsupportedImage(f"{name}: no usable decoder plugin ({text})") from exc
        raise CorruptDicom(f"{name}: pixel data cannot be decoded ({text})") from exc
    except _PARSE_ERRORS as exc:
        raise CorruptDicom(
            f"{name}: pixel data is truncated or damaged ({_one_line(exc)})"
        ) from exc
    except BaseException as exc:
        # Rust decoders (pylibjpeg-rle) panic with pyo3's PanicException, a BaseException
        # that cannot be imported by name; anything else (KeyboardInterrupt ...) goes on.
        if type(exc).__name__ != "PanicException":
            raise
        raise CorruptDicom(f"{name}: the pixel data decoder failed on this file") from exc


def _modality(arr: np.ndarray, header: DicomHeader) -> np.ndarray:
    rescales = [f.rescale for f in header.frames]
    if any(r is not None for r in rescales):
        out = arr.astype(np.float32)
        for i, rescale in enumerate(rescales):
            if rescale is not None:
                out[i] = out[i] * np.float32(rescale[0]) + np.float32(rescale[1])
        return out
    try:
        return np.asarray(apply_modality_lut(arr, header.dataset), dtype=np.float32)
    except (ValueError, KeyError, AttributeError, IndexError, TypeError, struct.error) as exc:
        raise CorruptDicom(
            f"{header.name}: invalid modality LUT or rescale ({_one_line(exc)})"
        ) from exc


def _voi(values: np.ndarray, header: DicomHeader) -> tuple[np.ndarray, tuple[float, float]]:
    ds = header.dataset
    try:
        descriptor = ds.VOILUTSequence[0].LUTDescriptor
        bits = int(descriptor[2])
        mapped = apply_voi(np.rint(values).astype(np.int64), ds)
    except (ValueError, KeyError, AttributeError, IndexError, TypeError, struct.error) as exc:
        raise CorruptDicom(f"{header.name}: invalid VOI LUT Sequence ({_one_line(exc)})") from exc
    return np.asarray(mapped, dtype=np.float32), (0.0, float(2**bits - 1))
