"""Write a phantom cohort to disk in the OncoPredict cohort format (see the README).

    DIR/cohort.json                      what this folder is (generator, n, seed, spec version)
    DIR/cases.csv                        one row per case: case_id + static features
    DIR/timepoints.csv                   case_id, time_point, week + dynamic features
    DIR/outcomes.csv                     case_id, response (pCR / partial / none)
    DIR/images/<case_id>/mri/phase{1,2,3}.dcm   DCE-MRI series (TemporalPositionIdentifier 1-3)
    DIR/images/<case_id>/mammogram.dcm   craniocaudal mammogram
    DIR/truth/                           phantom only: latents, eta, oracle probabilities,
                                         true contributions, tumour masks (PNG)

Every byte depends only on (n, seed): UIDs are derived from them, dates are fixed, and images are
rendered from per-case generators, so parallel workers give the same files as one process.
"""

from __future__ import annotations

import io
import json
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.filewriter import dcmwrite
from pydicom.uid import (
    UID,
    DigitalMammographyXRayImageStorageForPresentation,
    ExplicitVRLittleEndian,
    MRImageStorage,
    generate_uid,
)

from mmcrnet.phantom.cohort import SPEC_VERSION, PhantomCohort, generate_cohort
from mmcrnet.phantom.images import (
    MG_BITS,
    MG_PIXEL_MM,
    MRI_PHASE_LABELS,
    MRI_PHASE_TIMES_S,
    MRI_PIXEL_MM,
    PhantomImages,
    render_case,
)

STUDY_DATE = "20260101"
STUDY_TIME = "090000"
UID_ROOT = "1.2.826.0.1.3680043.8.498."  # pydicom's root for generated UIDs

ProgressCallback = Callable[[int, int], None]  # (done, total)


@dataclass(frozen=True)
class CaseRender:
    """What one case needs for rendering: a row of the truth table (picklable for workers)."""

    seed: int
    index: int
    case_id: str
    diameter_cm: float
    heterogeneity: float
    rim: float
    irregularity: float
    washout: float
    bpe: float

    def render(self) -> PhantomImages:
        return render_case(
            self.seed,
            self.index,
            self.diameter_cm,
            self.heterogeneity,
            self.rim,
            self.irregularity,
            self.washout,
            self.bpe,
        )


def _uid(seed: int, *parts: object) -> str:
    return generate_uid(
        prefix=UID_ROOT, entropy_srcs=[f"oncopredict-phantom:{seed}", *map(str, parts)]
    )


def _base_dataset(case: CaseRender, sop_class: str, sop_instance: str, modality: str) -> Dataset:
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = UID(sop_class)
    meta.MediaStorageSOPInstanceUID = UID(sop_instance)
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID, ds.SOPInstanceUID = sop_class, sop_instance
    ds.Modality = modality
    ds.PatientName = f"Phantom^{case.case_id}"
    ds.PatientID = case.case_id
    ds.PatientSex = "F"
    ds.StudyDate = ds.SeriesDate = ds.ContentDate = STUDY_DATE
    ds.StudyTime = ds.SeriesTime = ds.ContentTime = STUDY_TIME
    ds.StudyInstanceUID = _uid(case.seed, case.case_id, "study")
    ds.StudyID = "1"
    ds.AccessionNumber = ""
    ds.ReferringPhysicianName = ""
    ds.Manufacturer = "OncoPredict phantom"
    ds.BodyPartExamined = "BREAST"
    ds.ImageComments = "Synthetic phantom image - research use only"
    ds.SamplesPerPixel = 1
    ds.BitsAllocated = 16
    ds.PixelRepresentation = 0
    return ds


def _to_bytes(ds: Dataset) -> bytes:
    buffer = io.BytesIO()
    dcmwrite(buffer, ds, enforce_file_format=True)
    return buffer.getvalue()


def mri_datasets(case: CaseRender, phases: np.ndarray) -> list[bytes]:
    """The DCE-MRI series as DICOM files, one per phase.

    Args:
        phases: (3, H, W) uint16 (pre, early, late).
    """
    series_uid = _uid(case.seed, case.case_id, "mri-series")
    frame_uid = _uid(case.seed, case.case_id, "frame")
    files = []
    for p, time_s in enumerate(MRI_PHASE_TIMES_S):
        ds = _base_dataset(case, MRImageStorage, _uid(case.seed, case.case_id, "mri", p), "MR")
        ds.SeriesInstanceUID = series_uid
        ds.FrameOfReferenceUID = frame_uid
        ds.SeriesNumber = 1
        ds.InstanceNumber = p + 1
        ds.SeriesDescription = "DCE T1 FS axial (phantom)"
        ds.ImageType = ["ORIGINAL", "PRIMARY", "OTHER"]
        ds.ScanningSequence, ds.SequenceVariant, ds.ScanOptions = "GR", "SP", ""
        ds.MRAcquisitionType = "3D"
        ds.MagneticFieldStrength = 3.0
        ds.TemporalPositionIdentifier = p + 1
        ds.NumberOfTemporalPositions = len(MRI_PHASE_LABELS)
        ds.TriggerTime = time_s * 1000.0  # ms
        seconds = 9 * 3600 + int(time_s)
        ds.AcquisitionTime = f"{seconds // 3600:02d}{seconds // 60 % 60:02d}{seconds % 60:02d}"
        ds.ContrastBolusAgent = "" if p == 0 else "gadolinium"
        ds.ImagePositionPatient = [-78.4, -78.4, 0.0]
        ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
        ds.SliceThickness = 1.5
        ds.SliceLocation = 0.0
        ds.PixelSpacing = [MRI_PIXEL_MM, MRI_PIXEL_MM]
        ds.Rows, ds.Columns = phases.shape[1:]
        ds.PhotometricInterpretation = "MONOCHROME2"
        ds.BitsStored, ds.HighBit = 16, 15
        ds.PixelData = np.ascontiguousarray(phases[p], dtype="<u2").tobytes()
        files.append(_to_bytes(ds))
    return files


def mammogram_dataset(case: CaseRender, images: PhantomImages) -> bytes:
    """The craniocaudal mammogram as a DICOM 'For Presentation' image."""
    sop = DigitalMammographyXRayImageStorageForPresentation
    ds = _base_dataset(case, sop, _uid(case.seed, case.case_id, "mg"), "MG")
    ds.SeriesInstanceUID = _uid(case.seed, case.case_id, "mg-series")
    ds.SeriesNumber, ds.InstanceNumber = 2, 1
    ds.SeriesDescription = f"{images.laterality} CC (phantom)"
    ds.ImageType = ["ORIGINAL", "PRIMARY", ""]
    ds.PresentationIntentType = "FOR PRESENTATION"
    ds.ImageLaterality = images.laterality
    ds.ViewPosition = "CC"
    ds.PixelSpacing = ds.ImagerPixelSpacing = [MG_PIXEL_MM, MG_PIXEL_MM]
    ds.Rows, ds.Columns = images.mammogram.shape
    ds.PhotometricInterpretation = images.photometric
    ds.BitsStored, ds.HighBit = MG_BITS, MG_BITS - 1
    ds.WindowCenter, ds.WindowWidth = 2 ** (MG_BITS - 1), 2**MG_BITS
    ds.PixelData = np.ascontiguousarray(images.mammogram, dtype="<u2").tobytes()
    return _to_bytes(ds)


def _png_bytes(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG")
    return buffer.getvalue()


def write_case_images(case: CaseRender, out: Path) -> tuple[str, str]:
    """Render one case and write its DICOM files and truth masks; returns (photometric,
    laterality) of the mammogram."""
    images = case.render()
    folder = out / "images" / case.case_id
    (folder / "mri").mkdir(parents=True, exist_ok=True)
    for p, data in enumerate(mri_datasets(case, images.mri)):
        (folder / "mri" / f"phase{p + 1}.dcm").write_bytes(data)
    (folder / "mammogram.dcm").write_bytes(mammogram_dataset(case, images))
    masks = out / "truth" / "masks"
    masks.mkdir(parents=True, exist_ok=True)
    mri_mask = _png_bytes(images.mri_mask.astype(np.uint8) * 255)
    (masks / f"{case.case_id}_mri.png").write_bytes(mri_mask)
    (masks / f"{case.case_id}_mammogram.png").write_bytes(
        _png_bytes(images.mammogram_mask.astype(np.uint8) * 255)
    )
    return images.photometric, images.laterality


def write_case_pngs(case: CaseRender, folder: Path) -> None:
    """The same case as plain images: pre/early/late as 16-bit PNG, the mammogram as displayed
    (dense = bright) 16-bit PNG."""
    images = case.render()
    folder.mkdir(parents=True, exist_ok=True)
    for p, (label, phase) in enumerate(zip(MRI_PHASE_LABELS, images.mri)):
        (folder / f"mri_{p + 1}_{label}.png").write_bytes(_png_bytes(phase))
    shown = images.mammogram
    if images.photometric == "MONOCHROME1":
        shown = (2**MG_BITS - 1 - shown.astype(np.int32)).astype(np.uint16)
    (folder / "mammogram.png").write_bytes(_png_bytes(shown))


def _write_chunk(cases: Sequence[CaseRender], out: str) -> list[tuple[str, str, str]]:
    return [(c.case_id, *write_case_images(c, Path(out))) for c in cases]


def case_renders(cohort: PhantomCohort) -> list[CaseRender]:
    """Rendering inputs for every case; ``case_index`` (the case's row in the generated cohort)
    seeds its images, so a subset renders exactly as in the full cohort."""
    t = cohort.truth
    return [
        CaseRender(
            cohort.seed,
            int(t.case_index.iloc[i]),
            str(t.case_id.iloc[i]),
            float(t.tumor_diameter_t0_true.iloc[i]),
            float(t.heterogeneity.iloc[i]),
            float(t.rim.iloc[i]),
            float(t.irregularity.iloc[i]),
            float(t.washout.iloc[i]),
            float(t.bpe.iloc[i]),
        )
        for i in range(len(t))
    ]


def write_tables(
    cohort: PhantomCohort,
    out: Path,
    images: bool,
    image_meta: pd.DataFrame | None = None,
    command: str = "",
    extra: dict[str, object] | None = None,
) -> None:
    """The CSV tables, the truth tables and cohort.json."""
    out.mkdir(parents=True, exist_ok=True)
    cohort.cases.to_csv(out / "cases.csv", index=False)
    cohort.timepoints.to_csv(out / "timepoints.csv", index=False)
    cohort.outcomes.to_csv(out / "outcomes.csv", index=False)
    truth_dir = out / "truth"
    truth_dir.mkdir(exist_ok=True)
    truth = cohort.truth
    if image_meta is not None:
        truth = truth.merge(image_meta, on="case_id", how="left")
    truth.to_csv(truth_dir / "truth.csv", index=False)
    cohort.contributions.to_csv(truth_dir / "contributions.csv", index=False)
    meta = {
        "format": "oncopredict-cohort/1",
        "source": "phantom",
        "description": "Synthetic phantom cohort (shared/cohort-spec.md); research use only.",
        "spec_version": SPEC_VERSION,
        "seed": cohort.seed,
        "n": cohort.n,
        "images": images,
        "command": command,
        **(extra or {}),
    }
    (out / "cohort.json").write_text(json.dumps(meta, indent=2) + "\n")


def write_cohort(
    out: Path,
    n: int,
    seed: int,
    images: bool = True,
    workers: int | None = None,
    progress: ProgressCallback | None = None,
    command: str = "",
    cohort: PhantomCohort | None = None,
    extra: dict[str, object] | None = None,
) -> PhantomCohort:
    """Generate (unless ``cohort`` is given) and write a phantom cohort to ``out``.

    Args:
        out: target folder (created; existing files of the same names are overwritten).
        n, seed: cohort size and seed.
        images: render and write the DICOM images and masks (slow part).
        workers: processes for rendering (default: CPU count, at most 8).
        progress: called with (cases done, total) as images are written.
        command: the command line, recorded in cohort.json.
        cohort: an already generated cohort (e.g. a subset) to write instead.
        extra: more entries for cohort.json.
    Returns:
        the cohort written.
    """
    cohort = cohort if cohort is not None else generate_cohort(n, seed)
    out = Path(out)
    image_meta = None
    if images:
        rows = _render_all(case_renders(cohort), out, workers, progress)
        image_meta = pd.DataFrame(
            rows, columns=["case_id", "mammogram_photometric", "mammogram_laterality"]
        )
    write_tables(cohort, out, images, image_meta, command, extra)
    return cohort


def _render_all(
    renders: list[CaseRender], out: Path, workers: int | None, progress: ProgressCallback | None
) -> list[tuple[str, str, str]]:
    total = len(renders)
    workers = max(1, min(workers or os.cpu_count() or 1, 8, total))
    chunk = max(1, min(50, total // (workers * 4) or 1))
    chunks = [renders[i : i + chunk] for i in range(0, total, chunk)]
    rows: list[tuple[str, str, str]] = []
    done = 0
    if workers == 1:
        for part in chunks:
            rows.extend(_write_chunk(part, str(out)))
            done += len(part)
            if progress:
                progress(done, total)
        return rows
    with ProcessPoolExecutor(max_workers=workers) as pool:
        for part_rows in pool.map(_write_chunk, chunks, [str(out)] * len(chunks)):
            rows.extend(part_rows)
            done += len(part_rows)
            if progress:
                progress(done, total)
    return rows
