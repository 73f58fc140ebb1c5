"""Assemble uploaded files into a study: phases (DCE time points) of slice volumes, one shared
window mapping to [0, 1], and the slice to show.

The steps, one module each: :mod:`~mmcrnet.io.gather` turns the upload into image files of one
kind; :mod:`~mmcrnet.io.series` (DICOM) or :mod:`~mmcrnet.io.raster_series` (PNG/JPEG) orders
them into phases (the ordering rules are in their docstrings) and windows them with
:mod:`~mmcrnet.io.window`; :mod:`~mmcrnet.io.slices` picks the default slice; this module builds
the :class:`Study`.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from mmcrnet.errors import InvalidArgument
from mmcrnet.io.gather import Gather, Item, gather_items, items_from_paths
from mmcrnet.io.phase import Phase, StudyParts
from mmcrnet.io.raster_series import read_raster_series, time_label
from mmcrnet.io.series import read_dicom_series
from mmcrnet.io.slices import default_slice
from mmcrnet.io.sources import DEFAULT_LIMITS, Limits, RawFile, distinct

__all__ = ["Phase", "Study", "default_slice", "read_paths", "read_study"]


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
                label=time_label(float(times_s[p.label])),
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
            sources=distinct([src for p in phases for src in p.sources]) or self.sources,
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


def read_study(
    files: Sequence[RawFile],
    *,
    modality: str | None = None,
    slice_index: int | None = None,
    limits: Limits = DEFAULT_LIMITS,
    allow_mixed_ids: bool = False,
    skip_unreadable: bool = False,
    isolate: bool = True,
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
        isolate: decode DICOM pixel data in a resource-limited child process
            (:mod:`mmcrnet.io.sandbox`), so a decoder that crashes or hangs costs one file, not
            this process. Default True; only files we made ourselves (phantoms, the bundled
            examples) are read with False.

    Raises:
        UnreadableImage: or one of its subclasses, with a one-line message naming the file.
        MixedSeries: the files do not form one series (MixedIdentity: not of one patient,
            study and frame of reference; ``allow_mixed_ids`` reads them anyway).
        ValueError: ``slice_index`` is out of range.
    """
    gather = Gather(
        limits=limits,
        allow_mixed_ids=allow_mixed_ids,
        skip_unreadable=skip_unreadable,
        isolate=isolate,
    )
    return _read_items([Item(f, None) for f in files], modality, slice_index, gather)


def read_paths(
    paths: Sequence[str | os.PathLike[str]],
    *,
    modality: str | None = None,
    slice_index: int | None = None,
    limits: Limits = DEFAULT_LIMITS,
    allow_mixed_ids: bool = False,
    skip_unreadable: bool = False,
    isolate: bool = True,
) -> Study:
    """Read files and directories (recursed, natural order; sizes checked before reading).

    Non-image files found inside a directory (DICOMDIR, notes) are skipped with a warning and
    listed in ``Study.left_out``; files named explicitly must be images unless
    ``skip_unreadable``. Other arguments as for :func:`read_study`.

    Raises:
        UnreadableImage: a path does not exist or cannot be read; see :func:`read_study`.
    """
    items = items_from_paths(paths, limits)
    gather = Gather(
        limits=limits,
        allow_mixed_ids=allow_mixed_ids,
        skip_unreadable=skip_unreadable,
        isolate=isolate,
    )
    return _read_items(items, modality, slice_index, gather)


def _read_items(
    items: list[Item],
    modality: str | None,
    slice_index: int | None,
    gather: Gather,
) -> Study:
    kind, files = gather_items(items, gather)
    if kind == "dicom":
        parts = read_dicom_series(files, modality, gather)
    else:
        parts = read_raster_series(files, modality, gather)
    return _finish(parts, slice_index, gather)


def _finish(parts: StudyParts, slice_index: int | None, gather: Gather) -> Study:
    """The :class:`Study` of ``parts`` with the default slice (or ``slice_index``), the notes
    and the files left out."""
    values = {f.name: getattr(parts, f.name) for f in dataclasses.fields(parts)}
    spacing, window = parts.pixel_spacing_mm, parts.window
    values["pixel_spacing_mm"] = (float(spacing[0]), float(spacing[1])) if spacing else None
    values["window"] = (float(window[0]), float(window[1]))
    study = Study(
        **values,
        slice_index=default_slice(parts.phases),
        warnings=distinct(gather.notes),
        left_out=tuple(gather.left_out),
    )
    return study if slice_index is None else study.with_slice(slice_index)
