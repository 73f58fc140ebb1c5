"""Privacy by construction: a series full of identifying markers (tags, UIDs, a malformed UID
that makes pydicom warn, file and folder names) is read, predicted and explained, and no marker
reaches the result document, ``explain --json``, ``inspect``, the logs or a temporary folder."""

from __future__ import annotations

import io
import json
import logging
import tempfile
import time
import zipfile
from pathlib import Path

import pytest
from pydicom import dcmread

from mmcrnet.__main__ import main
from mmcrnet.case import ClinicalCase
from mmcrnet.cohort import load_cohort
from mmcrnet.explain import Explainer
from mmcrnet.guard import Guard
from mmcrnet.io import RawFile, read_study
from mmcrnet.predict import Predictor
from mmcrnet.report import case_report

NAME = "ZZSMITH"  # in the patient's name, the folder and the file names
PATIENT_ID = "ZZID424242"
UID_MARK = "424242"  # inside every UID
MARKERS = (NAME, PATIENT_ID, UID_MARK, "19610203", "ZZGENERAL HOSPITAL", "ZZDR WHO")


def _identifying_series(examples_dir: Path) -> list[tuple[str, bytes]]:
    files = []
    study_uid = f"1.2.826.0.1.3680043.{UID_MARK}.1"
    for k, source in enumerate(sorted((examples_dir / "images" / "PH00019" / "mri").iterdir())):
        ds = dcmread(source)
        ds.PatientName = f"{NAME}^JOHN"
        ds.PatientID = PATIENT_ID
        ds.PatientBirthDate = "19610203"
        ds.InstitutionName = "ZZGENERAL HOSPITAL"
        ds.ReferringPhysicianName = "ZZDR WHO"
        ds.StudyInstanceUID = study_uid
        ds.SeriesInstanceUID = f"1.2.826.0.1.3680043.{UID_MARK}.2"
        ds.SOPInstanceUID = f"1.2.826.0.1.3680043.{UID_MARK}.3.{k}"
        ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
        ds.FrameOfReferenceUID = f"1.2.826.0.1.3680043.{UID_MARK}.4"
        ds.AccessionNumber = f"ZZ{UID_MARK}X"  # malformed-looking, but a valid SH
        ds.add_new((0x0020, 0x0052), "UI", ds.FrameOfReferenceUID)
        ds.add_new((0x0008, 0x1155), "UI", f"1.2.{NAME}.{UID_MARK}")  # invalid UI: pydicom warns
        out = io.BytesIO()
        ds.save_as(out)
        files.append((f"{NAME}_JOHN/{NAME}_phase{k + 1}.dcm", out.getvalue()))
    return files


def _zip(files: list[tuple[str, bytes]]) -> RawFile:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in files:
            zf.writestr(name, data)
    return RawFile(f"{NAME}_upload.zip", buf.getvalue())


def _assert_clean(text: str, where: str) -> None:
    found = [m for m in MARKERS if m.lower() in text.lower()]
    assert not found, f"{where} carries {found}"


def test_no_identifier_reaches_any_output(
    examples_dir: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    started = time.time()
    files = _identifying_series(examples_dir)
    caplog.clear()  # building the files made pydicom warn too; only reading them counts

    # The page's path: an upload, the form, predict, guard, explain, the download.
    study = read_study([_zip(files)])
    assert study.warnings, "the invalid UID should have made pydicom warn"
    cohort = load_cohort(examples_dir)
    clinical = ClinicalCase.from_tables(cohort.cases, cohort.timepoints, "PH00019")
    explainer = Explainer(Predictor("models"))
    prepared = explainer.predictor.prepare(clinical, study)
    guard = Guard.load("models").check(study, prepared, clinical, explainer.predictor.model)
    explanation = explainer.explain(clinical, study, prepared=prepared)
    document = case_report(
        explanation,
        clinical.static,
        clinical.timepoints,
        study,
        guard,
        list(study.left_out) + list(study.warnings),
        include_maps=False,
    ).to_json()
    _assert_clean(document, "the result document")
    assert json.loads(document)["inputs"]["image"]["sources"][0] == "file 1"

    # The CLI on the same files on disk: inspect, and explain --json on a cohort folder.
    folder = tmp_path / f"{NAME}_JOHN"
    folder.mkdir()
    for name, data in files:
        (tmp_path / name).write_bytes(data)
    assert main(["inspect", str(folder)]) == 0
    _assert_clean(capsys.readouterr().out, "inspect")

    _assert_clean("\n".join(r.getMessage() for r in caplog.records), "the log")
    for path in Path(tempfile.gettempdir()).rglob("*"):
        if path.is_file() and path.stat().st_mtime >= started and tmp_path not in path.parents:
            try:
                _assert_clean(path.read_bytes().decode("latin-1"), f"temporary file {path}")
            except OSError:
                continue  # a file another process is writing or has removed
