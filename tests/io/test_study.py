"""Assembling files into phases and slices: ordering rules, default slice, consistency checks."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from mmcrnet.errors import MixedIdentity, MixedSeries, UnreadableImage
from mmcrnet.io import RawFile, Study, read_study

SeriesBuilder = Callable[..., list[RawFile]]


def assert_planted_order(study: Study) -> None:
    """Pixel [0, 0] was planted as 50*phase + slice (window [0, 1000] -> value / 1000)."""
    for p, phase in enumerate(study.phases):
        assert phase.index == p
        markers = [round(float(v) * 1000) for v in phase.volume[:, 0, 0]]
        assert markers == [50 * p + k for k in range(4)]


@pytest.mark.parametrize(
    ("flags", "times"),
    [
        ({}, (0.0, 60.0, 120.0)),  # sorted by TemporalPositionIdentifier; times from TriggerTime
        ({"tpi": False}, (0.0, 60.0, 120.0)),  # sorted by TriggerTime
        ({"tpi": False, "trigger": False}, (0.0, 75.0, 150.0)),  # by AcquisitionTime (jittered)
    ],
)
def test_dce_phase_and_slice_order(
    dce_files: SeriesBuilder,
    dce_layout: dict[str, float],
    flags: dict[str, bool],
    times: tuple[float, ...],
) -> None:
    study = read_study(dce_files(**flags))
    assert study.shape == (3, 4, 32, 32)
    assert [p.label for p in study.phases] == ["phase 1", "phase 2", "phase 3"]
    assert study.phase_source == "dicom"
    assert tuple(p.time_s for p in study.phases) == pytest.approx(times)
    assert_planted_order(study)
    positions = study.slice_positions_mm
    assert positions is not None and len(positions) == 4
    assert np.allclose(np.diff(positions), dce_layout["gap_mm"], atol=1e-3)
    assert study.window == (0.0, 1000.0)
    assert study.pixel_spacing_mm == (0.7, 0.7)
    assert study.kind == "mri"
    assert len(study.sources) == 12


def test_temporal_position_identifier_wins_over_trigger_time(
    dce_files: SeriesBuilder, to_bytes: Any
) -> None:
    from io import BytesIO

    from pydicom import dcmread

    files = []
    for f in dce_files():
        ds = dcmread(BytesIO(f.data))
        ds.TriggerTime = 1000.0 * (10 - int(ds.TemporalPositionIdentifier))  # reversed
        files.append(RawFile(f.name, to_bytes(ds)))
    study = read_study(files)
    assert_planted_order(study)


def test_default_slice_is_strongest_enhancement(
    dce_files: SeriesBuilder, dce_layout: dict[str, float]
) -> None:
    study = read_study(dce_files())
    assert study.slice_index == dce_layout["hot_slice"]
    image = study.image
    assert image.shape == (3, 32, 32)
    assert float(image[1, 15, 15] - image[0, 15, 15]) == pytest.approx(0.4, abs=1e-6)


def test_slice_override_and_with_slice(dce_files: SeriesBuilder) -> None:
    files = dce_files()
    study = read_study(files, slice_index=1)
    assert study.slice_index == 1
    moved = study.with_slice(3)
    assert moved.slice_index == 3 and study.slice_index == 1
    assert round(float(moved.image[0, 0, 0]) * 1000) == 3
    with pytest.raises(ValueError, match="0..3"):
        study.with_slice(4)
    with pytest.raises(ValueError, match="0..3"):
        read_study(files, slice_index=-1)


def test_single_phase_uses_middle_slice(dce_files: SeriesBuilder) -> None:
    study = read_study(dce_files(n_phases=1, n_slices=5))
    assert study.shape == (1, 5, 32, 32)
    assert study.slice_index == 2
    assert study.phases[0].label == "image"


def test_summary_is_json_serialisable(dce_files: SeriesBuilder) -> None:
    summary = read_study(dce_files()).summary()
    text = json.dumps(summary)
    assert json.loads(text)["shape"] == [3, 4, 32, 32]
    assert summary["n_slices"] == 4
    assert [p["label"] for p in summary["phases"]] == ["phase 1", "phase 2", "phase 3"]  # type: ignore[union-attr]
    assert set(summary) >= {
        "modality",
        "kind",
        "phases",
        "shape",
        "pixel_spacing_mm",
        "slice_index",
        "n_slices",
        "slice_positions_mm",
        "window",
        "photometric",
        "sources",
        "transfer_syntaxes",
        "warnings",
        "body_part",
        "orientation",
        "phase_source",
        "left_out",
        "identity_override",
        "patient_id",
        "study_uid",
    }


def test_study_is_immutable(dce_files: SeriesBuilder) -> None:
    study = read_study(dce_files(n_phases=2))
    assert [p.label for p in study.phases] == ["phase 1", "phase 2"]
    with pytest.raises(ValueError):
        study.phases[0].volume[0, 0, 0] = 1.0


# --- mixed uploads ------------------------------------------------------------------------------


def test_duplicate_positions_without_temporal_tags(dce_files: SeriesBuilder, one_line: Any) -> None:
    files = dce_files(tpi=False, trigger=False, acquisition=False)
    with pytest.raises(MixedSeries) as exc:
        read_study(files)
    one_line(exc, ".dcm")
    assert "slice position" in str(exc.value)


def test_phases_with_different_slice_counts(dce_files: SeriesBuilder, one_line: Any) -> None:
    files = [f for f in dce_files() if f.name != "p2_s3.dcm"]
    with pytest.raises(MixedSeries) as exc:
        read_study(files)
    assert "4, 4, 3" in str(exc.value)
    assert "\n" not in str(exc.value)


def test_different_rows(make_dicom: Callable[..., RawFile], one_line: Any) -> None:
    a = make_dicom("a.dcm", np.zeros((8, 8), dtype=np.uint16))
    b = make_dicom("b.dcm", np.zeros((9, 8), dtype=np.uint16))
    with pytest.raises(MixedSeries) as exc:
        read_study([a, b])
    one_line(exc, "b.dcm")


def test_different_orientation(make_dicom: Callable[..., RawFile], one_line: Any) -> None:
    px = np.zeros((8, 8), dtype=np.uint16)
    a = make_dicom(
        "axial.dcm", px, ImageOrientationPatient=[1, 0, 0, 0, 1, 0], ImagePositionPatient=[0, 0, 0]
    )
    b = make_dicom(
        "sagittal.dcm",
        px,
        ImageOrientationPatient=[0, 1, 0, 0, 0, -1],
        ImagePositionPatient=[0, 0, 5],
    )
    with pytest.raises(MixedSeries) as exc:
        read_study([a, b])
    one_line(exc, "sagittal.dcm")


def test_different_modality(make_dicom: Callable[..., RawFile], one_line: Any) -> None:
    px = np.zeros((8, 8), dtype=np.uint16)
    mr = make_dicom("mr.dcm", px, InstanceNumber=1)
    mg = make_dicom("mg.dcm", px, Modality="MG", InstanceNumber=2)
    with pytest.raises(MixedSeries) as exc:
        read_study([mr, mg])
    one_line(exc, "mg.dcm")


def test_different_pixel_spacing(make_dicom: Callable[..., RawFile], one_line: Any) -> None:
    px = np.zeros((8, 8), dtype=np.uint16)
    a = make_dicom("a.dcm", px)
    b = make_dicom("b.dcm", px, PixelSpacing=[0.5, 0.5])
    with pytest.raises(MixedSeries) as exc:
        read_study([a, b])
    one_line(exc, "b.dcm")


def test_dicom_and_png_mixed(
    make_dicom: Callable[..., RawFile], png_bytes: Callable[..., bytes], one_line: Any
) -> None:
    dcm = make_dicom("a.dcm", np.zeros((8, 8), dtype=np.uint16))
    png = RawFile("b.png", png_bytes(np.zeros((8, 8), dtype=np.uint8)))
    with pytest.raises(MixedSeries) as exc:
        read_study([dcm, png])
    one_line(exc, "b.png")


def test_mammogram_kind(make_dicom: Callable[..., RawFile]) -> None:
    px = np.arange(64, dtype=np.uint16).reshape(8, 8)
    mg = read_study(
        [make_dicom("mg.dcm", px, Modality="MG", PixelSpacing=None, ImagerPixelSpacing=[0.1, 0.1])]
    )
    assert mg.kind == "mammogram" and mg.pixel_spacing_mm == (0.1, 0.1)
    dx = read_study([make_dicom("dx.dcm", px, Modality="DX", BodyPartExamined="BREAST")])
    assert dx.kind == "mammogram"
    ct = read_study([make_dicom("dx.dcm", px, Modality="DX", BodyPartExamined="CHEST")])
    assert ct.kind == "other"


# --- one study, one patient ---------------------------------------------------------------------


def _pair(
    make_dicom: Callable[..., RawFile], a: dict[str, Any], b: dict[str, Any]
) -> list[RawFile]:
    """Two single-slice phases of one series that differ only in ``a`` / ``b`` attributes."""
    geometry = {"ImageOrientationPatient": [1, 0, 0, 0, 1, 0], "ImagePositionPatient": [0, 0, 0]}
    return [
        make_dicom(
            "a.dcm",
            np.zeros((8, 8), dtype=np.uint16),
            TemporalPositionIdentifier=1,
            **geometry,
            **a,
        ),
        make_dicom(
            "b.dcm", np.ones((8, 8), dtype=np.uint16), TemporalPositionIdentifier=2, **geometry, **b
        ),
    ]


@pytest.mark.parametrize(
    ("attr", "title"),
    [
        ("PatientID", "Patient ID"),
        ("StudyInstanceUID", "Study Instance UID"),
        ("FrameOfReferenceUID", "Frame of Reference UID"),
    ],
)
def test_files_of_different_identity_are_refused(
    make_dicom: Callable[..., RawFile], one_line: Any, attr: str, title: str
) -> None:
    files = _pair(make_dicom, {attr: "1.2.3"}, {attr: "1.2.4"})
    with pytest.raises(MixedIdentity) as exc:
        read_study(files)
    one_line(exc, "b.dcm")
    text = str(exc.value)
    assert f"b.dcm has {title} '1.2.4' but a.dcm has '1.2.3'" in text

    study = read_study(files, allow_mixed_ids=True)
    assert study.identity_override is True
    assert study.shape == (2, 1, 8, 8)
    assert any(title in w and "b.dcm" in w for w in study.warnings)


def test_identity_missing_in_one_file_is_no_conflict(make_dicom: Callable[..., RawFile]) -> None:
    files = _pair(
        make_dicom,
        {"PatientID": "PAT1", "StudyInstanceUID": "1.2.3", "BodyPartExamined": "BREAST"},
        {"PatientID": None},
    )
    study = read_study(files)
    assert study.identity_override is False
    assert study.patient_id == "PAT1" and study.study_uid == "1.2.3"  # b.dcm has no study UID
    assert study.body_part == "BREAST"
    assert study.orientation == (1.0, 0.0, 0.0, 0.0, 1.0, 0.0)
    assert [p.sources for p in study.phases] == [("a.dcm",), ("b.dcm",)]


def test_dicom_phase_labels_and_sources(dce_files: SeriesBuilder) -> None:
    study = read_study(dce_files())
    assert study.phase_source == "dicom"
    assert [len(p.sources) for p in study.phases] == [4, 4, 4]
    assert all(s.startswith(f"p{k}_") for k, p in enumerate(study.phases) for s in p.sources)
    single = read_study(dce_files(n_phases=1))
    assert single.phase_source == "single" and single.phases[0].label == "image"
    assert single.body_part is None and single.patient_id is None


def test_example_series_share_identity(examples_dir: Any) -> None:
    """The phantom writer gives all phases of a case one patient, study and frame of reference."""
    from mmcrnet.io import read_paths

    series = sorted((examples_dir / "images").glob("*/mri"))[0]
    study = read_paths([series])
    assert study.shape[0] == 3 and study.identity_override is False
    assert study.patient_id == series.parent.name and study.body_part == "BREAST"


# --- left-out files ------------------------------------------------------------------------------


def test_skip_unreadable_lists_left_out_files(
    dce_files: SeriesBuilder, testdata: Callable[[str], RawFile], one_line: Any
) -> None:
    files = dce_files(n_phases=1)
    clean = read_study(files)
    bad = [
        RawFile("notes.pdf", b"%PDF-1.4 not an image"),
        RawFile("cut.dcm", files[0].data[:200]),
        testdata("reportsi.dcm"),  # a structured report: no pixel data
    ]
    with pytest.raises(UnreadableImage) as exc:
        read_study(files + bad)  # the default is unchanged: the first bad file raises
    one_line(exc, "notes.pdf")

    study = read_study(files + bad, skip_unreadable=True)
    np.testing.assert_array_equal(study.image, clean.image)
    assert [line.split(":")[0] for line in study.left_out] == [
        "notes.pdf",
        "cut.dcm",
        "reportsi.dcm",
    ]
    assert all("\n" not in line and len(line.split(": ", 1)[1]) > 0 for line in study.left_out)
    assert len(study.sources) == 4

    with pytest.raises(UnreadableImage) as exc:
        read_study(bad, skip_unreadable=True)  # nothing readable remains
    one_line(exc, "notes.pdf")


def test_skip_unreadable_still_raises_for_limits_and_mixed(
    make_dicom: Callable[..., RawFile], testdata: Callable[[str], RawFile]
) -> None:
    from mmcrnet.errors import ImageTooLarge
    from mmcrnet.io import Limits

    with pytest.raises(ImageTooLarge):
        read_study(
            [testdata("MR_small.dcm")], limits=Limits(max_file_bytes=1000), skip_unreadable=True
        )
    with pytest.raises(MixedSeries):
        read_study(_pair(make_dicom, {"PatientID": "X"}, {"PatientID": "Y"}), skip_unreadable=True)


def test_skipped_zip_members_are_left_out(dce_files: SeriesBuilder) -> None:
    import zipfile
    from io import BytesIO

    buf = BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for f in dce_files(n_phases=1):
            zf.writestr(f"s/{f.name}", f.data)
        zf.writestr("s/README.txt", b"hello\n")
    study = read_study([RawFile("upload.zip", buf.getvalue())])
    assert len(study.left_out) == 1 and study.left_out[0].startswith("upload.zip/s/README.txt: ")
