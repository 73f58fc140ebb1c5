"""One time point of a study (:class:`Phase`) and what a reader hands :mod:`mmcrnet.io.study`
to build the :class:`~mmcrnet.io.study.Study` (:class:`StudyParts`).

Both readers (:mod:`mmcrnet.io.series` for DICOM, :mod:`mmcrnet.io.raster_series` for PNG/JPEG)
build phases, so the type lives below them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from pydicom.dataset import Dataset


@dataclass(frozen=True, eq=False)
class SliceSource:
    """Where one slice of a DICOM phase came from: its file's header without pixel data (what a
    DICOM result must reference: patient, study, series, SOP instance) and the frame within it,
    with that frame's geometry."""

    header: Dataset  # the file's data set, pixel and overlay data removed
    frame: int  # 0-based frame number within the file
    position: tuple[float, ...] | None  # ImagePositionPatient (mm) of the frame
    orientation: tuple[float, ...] | None  # ImageOrientationPatient of the frame


@dataclass(frozen=True, eq=False)
class Phase:
    """One time point of the study."""

    label: str  # what the data says: "phase N" (DICOM), "pre"/"early"/"late", "90 s", a file name
    # for PNG/JPEG images of unknown order; "image" for a single phase
    index: int  # 0-based order after sorting
    time_s: float | None  # seconds after the first phase; None if unknown
    volume: np.ndarray  # (S, H, W) float32 in [0, 1], slices sorted along the slice normal
    sources: tuple[str, ...] = ()  # files this phase was read from
    slice_sources: tuple[SliceSource, ...] = ()  # (S,) per slice, in volume order; DICOM only


@dataclass(frozen=True, eq=False)
class StudyParts:
    """A study as a reader assembled it, before the default slice, the notes and the files left
    out are added (fields as on :class:`~mmcrnet.io.study.Study`)."""

    modality: str
    kind: str  # "mri", "mammogram", "ct" or "other"
    phases: tuple[Phase, ...]
    slice_positions_mm: tuple[float, ...] | None
    pixel_spacing_mm: tuple[float, float] | None  # (row, col)
    window: tuple[float, float]  # (lo, hi) in modality units mapped to [0, 1]
    photometric: str
    sources: tuple[str, ...]
    transfer_syntaxes: tuple[str, ...]
    phase_source: str  # "dicom", "single", "names" or "unassigned"
    body_part: str | None = None
    orientation: tuple[float, ...] | None = None
    identity_override: bool = False
    patient_id: str | None = None
    study_uid: str | None = None
