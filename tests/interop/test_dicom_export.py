"""DICOM results: each object passes dciodvfy and reads back with highdicom with the source's
geometry, references and the values we wrote."""

from __future__ import annotations

import dataclasses
import io
import zipfile
from pathlib import Path

import highdicom as hd
import numpy as np
import pydicom
import pytest

from mmcrnet.features import OUTCOMES
from mmcrnet.interop.dicom_export import (
    STRONG,
    DicomExport,
    ExportUnavailable,
    export_dicom,
)
from mmcrnet.io import read_paths
from tests.conftest import EXAMPLES
from tests.interop.conftest import dciodvfy


def _by_kind(export: DicomExport) -> dict[str, pydicom.Dataset]:
    return {
        o.kind: pydicom.dcmread(io.BytesIO(o.to_bytes())) for o in export.objects
    }  # read back from the bytes a PACS gets


def _valid(export: DicomExport, tmp_path: Path) -> None:
    for exported in export.objects:
        path = tmp_path / exported.file_name
        path.write_bytes(exported.to_bytes())
        errors, _ = dciodvfy(path)
        assert errors == [], (exported.kind, errors)


def _sr_values(sr: hd.sr.Comprehensive3DSR) -> tuple[dict[str, float], list[str]]:
    """Probabilities by the outcome's code meaning, and every text item."""
    probabilities: dict[str, float] = {}
    texts: list[str] = []

    def walk(items: pydicom.Sequence, finding: str | None) -> None:
        for item in items:
            name = item.ConceptNameCodeSequence[0].CodeMeaning
            if name == "Finding" and item.ValueType == "CODE":
                finding = item.ConceptCodeSequence[0].CodeMeaning
            if item.ValueType == "NUM" and name == "Probability":
                value = float(item.MeasuredValueSequence[0].NumericValue)
                probabilities[str(finding)] = value
            if item.ValueType == "TEXT":
                texts.append(str(item.TextValue))
            if "ContentSequence" in item:
                walk(item.ContentSequence, finding)

    for item in sr.ContentSequence:  # each group names its finding before its measurement
        walk([item], None)
    return probabilities, texts


def test_an_mri_prediction_exports_three_valid_objects(mri_answer, tmp_path: Path) -> None:
    export = export_dicom(mri_answer.explanation, mri_answer.study, mri_answer.guard)
    assert [o.kind for o in export.objects] == [
        "Parametric Map",
        "Segmentation",
        "Structured Report",
    ]
    _valid(export, tmp_path)
    study = mri_answer.study
    read = [p.index for p in mri_answer.explanation.image.phases]
    sources = [study.phases[k].slice_sources[study.slice_index] for k in read]
    source_uids = {str(s.header.SOPInstanceUID) for s in sources}
    objects = _by_kind(export)
    axis = mri_answer.explanation.image.axis_maps["gradcam"]

    pm = hd.pm.ParametricMap.from_dataset(objects["Parametric Map"])
    first = sources[0].header
    for keyword in ("PatientID", "StudyInstanceUID", "FrameOfReferenceUID"):
        assert pm.get(keyword) == first.get(keyword), keyword
    shared = pm.SharedFunctionalGroupsSequence[0]
    assert [float(v) for v in shared.PixelMeasuresSequence[0].PixelSpacing] == pytest.approx(
        [float(v) for v in first.PixelSpacing]
    )
    frame = pm.PerFrameFunctionalGroupsSequence[0]
    position = frame.PlanePositionSequence[0].ImagePositionPatient
    assert [float(v) for v in position] == pytest.approx(list(sources[0].position))
    referenced = {
        str(i.ReferencedSOPInstanceUID)
        for s in pm.ReferencedSeriesSequence
        for i in s.ReferencedInstanceSequence
    }
    assert referenced == source_uids  # every phase the model read
    values = pm.pixel_array.astype(np.float32)
    assert values.shape == axis.shape
    np.testing.assert_allclose(values, axis, atol=1e-6)
    mapping = (
        frame.RealWorldValueMappingSequence[0]
        if "RealWorldValueMappingSequence" in frame
        else (shared.RealWorldValueMappingSequence[0])
    )
    first_last = (
        mapping.DoubleFloatRealWorldValueFirstValueMapped,
        mapping.DoubleFloatRealWorldValueLastValueMapped,
    )  # float pixel values map through their double-float range
    assert first_last == (-1.0, 1.0)
    assert (float(mapping.RealWorldValueSlope), float(mapping.RealWorldValueIntercept)) == (1, 0)
    assert pm.ContentQualification == "RESEARCH"

    seg = hd.seg.Segmentation.from_dataset(objects["Segmentation"])
    assert seg.get_source_image_uids()[0][2] == str(first.SOPInstanceUID)
    peak = float(np.abs(axis).max())
    masks = seg.get_pixels_by_source_instance([str(first.SOPInstanceUID)])[0]
    labels = [s.SegmentLabel for s in seg.SegmentSequence]
    expected = {"towards pCR": axis >= STRONG * peak, "towards no response": axis <= -STRONG * peak}
    for k, label in enumerate(labels):
        np.testing.assert_array_equal(masks[..., k].astype(bool), expected[label])
    algorithm = seg.SegmentSequence[0].SegmentationAlgorithmIdentificationSequence[0]
    assert algorithm.AlgorithmFamilyCodeSequence[0].CodeMeaning == "Artificial Intelligence"

    sr = hd.sr.Comprehensive3DSR.from_dataset(objects["Structured Report"])
    probabilities, texts = _sr_values(sr)
    prediction = mri_answer.explanation.prediction
    meanings = {
        "pCR": "Pathologic complete response",
        "partial": "Partial response",
        "none": "No response",
    }
    for outcome in OUTCOMES:
        assert probabilities[meanings[outcome]] == pytest.approx(
            prediction.probabilities[outcome], abs=1e-6
        )
    assert any("Research use only" in t for t in texts)
    assert any(prediction.training_data in t for t in texts)
    evidence = {
        str(i.ReferencedSOPInstanceUID)
        for s in sr.CurrentRequestedProcedureEvidenceSequence
        for series in s.ReferencedSeriesSequence
        for i in series.ReferencedSOPSequence
    }
    assert source_uids <= evidence
    dump = str(sr)
    for expected_text in (
        "Algorithm Name",
        "Algorithm Version",
        "Artificial Intelligence",
        "122157",
    ):
        assert expected_text in dump
    assert sr.Manufacturer == "OncoPredict"
    header = sources[0].header  # what the study keeps of a source: no pixels, nothing private
    assert "PixelData" not in header and not any(e.tag.is_private for e in header)


def test_a_mammogram_has_no_parametric_map_and_its_map_only_on_request(
    mammogram_answer, tmp_path: Path
) -> None:
    plain = export_dicom(
        mammogram_answer.explanation, mammogram_answer.study, mammogram_answer.guard
    )
    assert [o.kind for o in plain.objects] == ["Structured Report"]
    assert any("not reliable yet" in line for line in plain.not_made)
    asked = export_dicom(
        mammogram_answer.explanation,
        mammogram_answer.study,
        mammogram_answer.guard,
        include_unreliable_maps=True,
    )
    assert [o.kind for o in asked.objects] == ["Segmentation", "Structured Report"]
    assert any("Frame of Reference" in line for line in asked.not_made)
    _valid(asked, tmp_path)
    written = _by_kind(asked)["Segmentation"]
    assert "FrameOfReferenceUID" not in written
    measures = written.SharedFunctionalGroupsSequence[0].PixelMeasuresSequence[0]
    assert "SliceThickness" not in measures  # a projection has none (dciodvfy: must be absent)
    # highdicom 0.28's reader wants the element present: give its copy an empty one
    copy = pydicom.dcmread(io.BytesIO(asked.objects[0].to_bytes()))
    copy.SharedFunctionalGroupsSequence[0].PixelMeasuresSequence[0].SliceThickness = None
    seg = hd.seg.Segmentation.from_dataset(copy)
    source = mammogram_answer.study.phases[0].slice_sources[0]
    assert seg.get_source_image_uids()[0][2] == str(source.header.SOPInstanceUID)
    assert (seg.Rows, seg.Columns) == mammogram_answer.study.shape[2:]
    assert [float(v) for v in measures.PixelSpacing] == pytest.approx(
        list(mammogram_answer.study.pixel_spacing_mm)
    )
    axis = mammogram_answer.explanation.image.axis_maps["gradcam"]
    mask = seg.get_pixels_by_source_instance([str(source.header.SOPInstanceUID)])[0][..., 0]
    np.testing.assert_array_equal(mask.astype(bool), axis >= STRONG * float(np.abs(axis).max()))


def test_a_flagged_image_exports_no_maps_and_says_flagged(mri_answer, tmp_path: Path) -> None:
    guard = dataclasses.replace(mri_answer.guard, image_reasons=("a test reason",))
    export = export_dicom(mri_answer.explanation, mri_answer.study, guard)
    assert [o.kind for o in export.objects] == ["Structured Report"]
    assert any("cannot judge this image (a test reason)" in line for line in export.not_made)
    sr = _by_kind(export)["Structured Report"]
    _, texts = _sr_values(sr)
    assert any(
        t.startswith("Flagged: not a reliable answer") and "a test reason" in t for t in texts
    )
    assert "FLAGGED" in sr.SeriesDescription


def test_images_without_dicom_headers_cannot_be_exported(mri_answer) -> None:
    study = read_paths(sorted((EXAMPLES / "png" / "PH00019").glob("mri_*.png")))
    with pytest.raises(ExportUnavailable, match="not DICOM files read in this session"):
        export_dicom(mri_answer.explanation, study, mri_answer.guard)
    with pytest.raises(ExportUnavailable, match="read no image"):
        export_dicom(mri_answer.explanation, None, mri_answer.guard)


def test_the_zip_holds_every_object_and_what_was_not_made(mammogram_answer) -> None:
    export = export_dicom(
        mammogram_answer.explanation, mammogram_answer.study, mammogram_answer.guard
    )
    with zipfile.ZipFile(io.BytesIO(export.zip_bytes())) as archive:
        names = archive.namelist()
        readme = archive.read("README.txt").decode()
    assert sorted(names) == sorted(["README.txt", *(o.file_name for o in export.objects)])
    assert "Research use only" in readme and "not made: maps" in readme


def _series(tmp_path: Path, slices: int, enhanced: bool, mutate=None) -> list[Path]:
    """PH00001's three phases as ``slices`` slices 3 mm apart: one file a slice, or one
    enhanced multi-frame file a phase (geometry in the functional groups)."""
    from pydicom.dataset import Dataset
    from pydicom.sequence import Sequence
    from pydicom.uid import generate_uid

    paths = []
    for k in (1, 2, 3):
        source = pydicom.dcmread(EXAMPLES / "images" / "PH00001" / "mri" / f"phase{k}.dcm")
        frames = []
        for s in range(slices):
            ds = pydicom.dcmread(EXAMPLES / "images" / "PH00001" / "mri" / f"phase{k}.dcm")
            ds.SOPInstanceUID = generate_uid()
            ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
            ds.ImagePositionPatient = [-78.4, -78.4, 3.0 * s]
            ds.InstanceNumber = (k - 1) * slices + s + 1
            if mutate is not None:
                mutate(ds)
            frames.append(ds)
        if not enhanced:
            for s, ds in enumerate(frames):
                paths.append(tmp_path / f"p{k}s{s}.dcm")
                ds.save_as(paths[-1], enforce_file_format=False)
            continue
        ds = frames[0]
        ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.4.1"  # Enhanced MR Image Storage
        ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID
        ds.NumberOfFrames = slices
        ds.PixelData = b"".join(bytes(f.PixelData) for f in frames)
        shared, measures, plane = Dataset(), Dataset(), Dataset()
        measures.PixelSpacing, measures.SliceThickness = source.PixelSpacing, 3
        plane.ImageOrientationPatient = source.ImageOrientationPatient
        shared.PixelMeasuresSequence, shared.PlaneOrientationSequence = (
            Sequence([measures]),
            Sequence([plane]),
        )
        ds.SharedFunctionalGroupsSequence = Sequence([shared])
        per = []
        for s in range(slices):
            item, position, content = Dataset(), Dataset(), Dataset()
            position.ImagePositionPatient = [-78.4, -78.4, 3.0 * s]
            content.TemporalPositionIndex = k
            item.PlanePositionSequence, item.FrameContentSequence = (
                Sequence([position]),
                Sequence([content]),
            )
            per.append(item)
        ds.PerFrameFunctionalGroupsSequence = Sequence(per)
        for keyword in ("ImagePositionPatient", "ImageOrientationPatient", "PixelSpacing"):
            delattr(ds, keyword)
        paths.append(tmp_path / f"p{k}.dcm")
        ds.save_as(paths[-1], enforce_file_format=False)
    return paths


@pytest.mark.parametrize("enhanced", [False, True], ids=["a file a slice", "enhanced MR"])
def test_a_multi_slice_series_exports_the_shown_slice(
    mri_answer, tmp_path: Path, enhanced: bool
) -> None:
    study = read_paths(_series(tmp_path, 3, enhanced), isolate=False, slice_index=2)
    export = export_dicom(mri_answer.explanation, study, mri_answer.guard)
    assert [o.kind for o in export.objects] == [
        "Parametric Map",
        "Segmentation",
        "Structured Report",
    ]
    _valid(export, tmp_path)
    pm = _by_kind(export)["Parametric Map"]
    frame = pm.PerFrameFunctionalGroupsSequence[0]
    assert float(frame.PlanePositionSequence[0].ImagePositionPatient[2]) == pytest.approx(6.0)
    derived = frame.DerivationImageSequence[0].SourceImageSequence
    expected = study.phases[0].slice_sources[2]
    assert str(derived[0].ReferencedSOPInstanceUID) == str(expected.header.SOPInstanceUID)
    if enhanced:  # the third frame of the phase's one file
        assert int(derived[0].ReferencedFrameNumber) == 3


def test_a_source_without_a_frame_of_reference_says_why_no_maps(mri_answer, tmp_path: Path) -> None:
    def drop(ds: pydicom.Dataset) -> None:
        del ds.FrameOfReferenceUID

    study = read_paths(_series(tmp_path, 1, False, drop), isolate=False)
    export = export_dicom(mri_answer.explanation, study, mri_answer.guard)
    assert [o.kind for o in export.objects] == ["Structured Report"]
    assert any("no Frame of Reference" in line for line in export.not_made)
