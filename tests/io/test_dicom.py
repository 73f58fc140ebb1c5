"""DICOM parsing and decoding: transfer syntaxes, decoder plugins, LUTs, bad files."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from pydicom.pixels import get_decoder
from pydicom.uid import UID

from mmcrnet.errors import CorruptDicom, ImageTooLarge, NoPixelData, UnsupportedImage
from mmcrnet.io import DEFAULT_LIMITS, RawFile, read_study
from mmcrnet.io import dicom as dicom_mod
from mmcrnet.io.dicom import decode, read_header

MR_VARIANTS = [
    "MR_small.dcm",
    "MR_small_implicit.dcm",
    "MR_small_bigendian.dcm",
    "MR_small_expb.dcm",
    "MR_small_RLE.dcm",
    "MR_small_jp2klossless.dcm",
    "MR_small_jpeg_ls_lossless.dcm",
    "MR_small_padded.dcm",
]


@pytest.mark.parametrize("name", MR_VARIANTS)
def test_mr_small_variants_decode_identically(
    testdata: Callable[[str], RawFile], name: str
) -> None:
    reference = read_study([testdata("MR_small.dcm")])
    study = read_study([testdata(name)])
    assert study.shape == (1, 1, 64, 64)
    assert study.modality == "MR" and study.kind == "mri"
    assert study.window == (-200.0, 1400.0)  # WindowCenter 600, WindowWidth 1600
    assert study.pixel_spacing_mm == pytest.approx((0.3125, 0.3125))
    np.testing.assert_array_equal(study.image, reference.image)
    assert study.image.dtype == np.float32


@pytest.mark.parametrize(
    ("name", "shape", "syntax"),
    [
        ("CT_small.dcm", (1, 1, 128, 128), "Explicit VR Little Endian"),
        ("693_J2KI.dcm", (1, 1, 512, 512), "JPEG 2000 Image Compression"),
        (
            "J2K_pixelrep_mismatch.dcm",
            (1, 1, 512, 512),
            "JPEG 2000 Image Compression (Lossless Only)",
        ),
        ("examples_overlay.dcm", (1, 1, 300, 484), "Explicit VR Little Endian"),
    ],
)
def test_other_files_decode(
    testdata: Callable[[str], RawFile], name: str, shape: tuple[int, ...], syntax: str
) -> None:
    study = read_study([testdata(name)])
    assert study.shape == shape
    assert study.transfer_syntaxes == (syntax,)
    assert 0.0 <= float(study.image.min()) and float(study.image.max()) <= 1.0
    assert float(study.image.std()) > 0.01
    if name.startswith(("CT", "693", "J2K")):
        assert study.kind == "ct"


PLUGINS = [
    ("MR_small_jp2klossless.dcm", "pylibjpeg"),
    ("MR_small_jp2klossless.dcm", "gdcm"),
    ("MR_small_jp2klossless.dcm", "pillow"),
    ("MR_small_jpeg_ls_lossless.dcm", "pyjpegls"),
    ("MR_small_jpeg_ls_lossless.dcm", "gdcm"),
    ("MR_small_RLE.dcm", "pydicom"),
    ("MR_small_RLE.dcm", "pylibjpeg"),
    ("MR_small_RLE.dcm", "gdcm"),
]


@pytest.mark.parametrize(("name", "plugin"), PLUGINS)
def test_decoder_plugins_agree(testdata: Callable[[str], RawFile], name: str, plugin: str) -> None:
    header = read_header(testdata(name), DEFAULT_LIMITS)
    tsyntax = UID(header.dataset.file_meta.TransferSyntaxUID)
    available = get_decoder(tsyntax).available_plugins
    if plugin not in available:
        pytest.skip(
            f"pydicom reports no '{plugin}' plugin for {tsyntax.name} "
            f"(available: {', '.join(available)})"
        )
    expected = decode(read_header(testdata("MR_small.dcm"), DEFAULT_LIMITS)).values
    got = decode(header, decoding_plugin=plugin).values
    np.testing.assert_array_equal(got, expected)


def test_window_rescale_and_monochrome1(make_dicom: Callable[..., RawFile]) -> None:
    pixels = np.array([[0, 50], [100, 100]], dtype=np.uint16)
    # slope 2, intercept -50: stored 0/50/100 -> -50/50/150; window [-50, 150]
    f = make_dicom(
        "rescaled.dcm",
        pixels,
        RescaleSlope=2,
        RescaleIntercept=-50,
        WindowCenter=50,
        WindowWidth=200,
    )
    study = read_study([f])
    assert study.window == (-50.0, 150.0)
    np.testing.assert_allclose(study.image[0], [[0.0, 0.5], [1.0, 1.0]], atol=1e-6)

    mono1 = make_dicom(
        "mono1.dcm",
        np.arange(64, dtype=np.uint16).reshape(8, 8) * 10,
        PhotometricInterpretation="MONOCHROME1",
    )
    study = read_study([mono1])
    assert study.photometric == "MONOCHROME1"
    assert study.image[0, 0, 0] == 1.0  # lowest stored value shows bright
    assert study.image[0, -1, -1] == 0.0


def test_percentile_window_without_window_tags(make_dicom: Callable[..., RawFile]) -> None:
    pixels = np.arange(10000, dtype=np.uint16).reshape(100, 100)
    study = read_study([make_dicom("plain.dcm", pixels)])
    lo, hi = study.window
    assert lo == pytest.approx(np.percentile(pixels, 0.5))
    assert hi == pytest.approx(np.percentile(pixels, 99.5))


def test_voi_lut_sequence_used_without_window(build_dataset: Any, to_bytes: Any) -> None:
    from pydicom.dataset import Dataset
    from pydicom.sequence import Sequence

    ds = build_dataset(np.array([[0, 1], [2, 3]], dtype=np.uint16))
    item = Dataset()
    item.add_new(0x00283002, "US", [4, 0, 8])  # LUT Descriptor
    item.add_new(0x00283006, "US", [0, 255, 128, 64])  # LUT Data
    ds.VOILUTSequence = Sequence([item])
    study = read_study([RawFile("voi.dcm", to_bytes(ds))])
    assert study.window == (0.0, 255.0)
    np.testing.assert_allclose(study.image[0], np.array([[0, 255], [128, 64]]) / 255.0, atol=1e-6)


def test_multiframe_with_functional_groups_sorted_by_position(
    build_dataset: Any, to_bytes: Any
) -> None:
    from pydicom.dataset import Dataset
    from pydicom.sequence import Sequence
    from pydicom.uid import EnhancedMRImageStorage

    n = 4
    frames = np.stack([np.full((8, 8), 100 * (k + 1), dtype=np.uint16) for k in range(n)])
    ds = build_dataset(
        frames, SOPClassUID=EnhancedMRImageStorage, WindowCenter=250, WindowWidth=500
    )
    shared = Dataset()
    orient = Dataset()
    orient.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
    shared.PlaneOrientationSequence = Sequence([orient])
    ds.SharedFunctionalGroupsSequence = Sequence([shared])
    per_frame = []
    for k in range(n):
        item, plane = Dataset(), Dataset()
        plane.ImagePositionPatient = [0, 0, 10.0 * (n - k)]  # frames stored top-down
        item.PlanePositionSequence = Sequence([plane])
        per_frame.append(item)
    ds.PerFrameFunctionalGroupsSequence = Sequence(per_frame)
    study = read_study([RawFile("enhanced.dcm", to_bytes(ds))])
    assert study.shape == (1, n, 8, 8)
    assert study.slice_positions_mm == (10.0, 20.0, 30.0, 40.0)
    # sorted by position: the last stored frame (400) comes first
    assert [float(v) * 500 for v in study.phases[0].volume[:, 0, 0]] == pytest.approx(
        [400, 300, 200, 100]
    )


def test_multiframe_with_temporal_index_gives_phases(build_dataset: Any, to_bytes: Any) -> None:
    from pydicom.dataset import Dataset
    from pydicom.sequence import Sequence

    positions, times = 2, 3
    frames, per_frame = [], []
    for t in range(times):
        for s in range(positions):
            frames.append(np.full((4, 4), 10 * t + s, dtype=np.uint16))
            item, plane, content = Dataset(), Dataset(), Dataset()
            plane.ImagePositionPatient = [0, 0, 5.0 * s]
            orient = Dataset()
            orient.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
            content.TemporalPositionIndex = t + 1
            item.PlanePositionSequence = Sequence([plane])
            item.PlaneOrientationSequence = Sequence([orient])
            item.FrameContentSequence = Sequence([content])
            per_frame.append(item)
    ds = build_dataset(np.stack(frames[::-1]), WindowCenter=50, WindowWidth=100)
    ds.PerFrameFunctionalGroupsSequence = Sequence(per_frame[::-1])
    study = read_study([RawFile("dce_mf.dcm", to_bytes(ds))])
    assert study.shape == (3, 2, 4, 4)
    assert [p.label for p in study.phases] == ["phase 1", "phase 2", "phase 3"]
    for t, phase in enumerate(study.phases):
        assert [round(float(v) * 100) for v in phase.volume[:, 0, 0]] == [10 * t, 10 * t + 1]


def test_legacy_multiframe_frames_are_slices(make_dicom: Callable[..., RawFile]) -> None:
    frames = np.stack([np.full((6, 6), k, dtype=np.uint16) for k in range(5)])
    study = read_study([make_dicom("cine.dcm", frames)])
    assert study.shape == (1, 5, 6, 6)
    assert study.slice_index == 2
    assert study.slice_positions_mm is None


# --- bad files ----------------------------------------------------------------------------------


def test_truncated_pixel_data(testdata: Callable[[str], RawFile], one_line: Any) -> None:
    with pytest.raises(CorruptDicom) as exc:
        read_study([testdata("MR_truncated.dcm")])
    one_line(exc, "MR_truncated.dcm")


@pytest.mark.parametrize("fraction", [0.5, 0.05])
def test_mr_small_cut_short(
    testdata: Callable[[str], RawFile], one_line: Any, fraction: float
) -> None:
    data = testdata("MR_small.dcm").data
    cut = RawFile("cut.dcm", data[: int(len(data) * fraction)])
    with pytest.raises(CorruptDicom) as exc:
        read_study([cut])
    one_line(exc, "cut.dcm")


def test_garbage_after_preamble(one_line: Any) -> None:
    junk = RawFile("junk.dcm", b"\0" * 128 + b"DICM" + bytes(range(256)) * 8)
    with pytest.raises(CorruptDicom) as exc:
        read_study([junk])
    one_line(exc, "junk.dcm")


@pytest.mark.parametrize(
    ("name", "sop"),
    [("test-SR.dcm", "SR"), ("reportsi.dcm", "Basic Text SR"), ("rtplan.dcm", "RT Plan Storage")],
)
def test_no_pixel_data(
    testdata: Callable[[str], RawFile], one_line: Any, name: str, sop: str
) -> None:
    with pytest.raises(NoPixelData) as exc:
        read_study([testdata(name)])
    one_line(exc, name)
    assert sop in str(exc.value)


def test_header_bomb_rejected_before_decoding(
    make_dicom: Callable[..., RawFile], monkeypatch: pytest.MonkeyPatch, one_line: Any
) -> None:
    f = make_dicom(
        "bomb.dcm", np.zeros((2, 2), dtype=np.uint16), Rows=60000, Columns=60000, NumberOfFrames=100
    )

    def no_decoding(*args: object, **kwargs: object) -> None:
        raise AssertionError("pixel data must not be decoded")

    monkeypatch.setattr(dicom_mod, "pixel_array", no_decoding)
    with pytest.raises(ImageTooLarge) as exc:
        read_study([f])
    one_line(exc, "bomb.dcm")


def test_unknown_transfer_syntax_is_unsupported(
    build_dataset: Any, to_bytes: Any, one_line: Any
) -> None:
    ds = build_dataset(np.zeros((4, 4), dtype=np.uint16))
    from io import BytesIO

    from pydicom.encaps import encapsulate
    from pydicom.uid import MPEG2MPML

    ds.file_meta.TransferSyntaxUID = MPEG2MPML  # pydicom has no decoder for video
    ds.PixelData = encapsulate([b"\x00" * 32])
    buf = BytesIO()
    ds.save_as(buf, enforce_file_format=True)
    raw = RawFile("odd.dcm", buf.getvalue())
    with pytest.raises(UnsupportedImage) as exc:
        read_study([raw])
    one_line(exc, "odd.dcm")


def test_preambleless_dicom_is_read(build_dataset: Any) -> None:
    from io import BytesIO

    ds = build_dataset(np.arange(16, dtype=np.uint16).reshape(4, 4), WindowCenter=8, WindowWidth=16)
    from pydicom.dataset import FileMetaDataset

    ds.file_meta = FileMetaDataset()
    buf = BytesIO()
    ds.save_as(buf, implicit_vr=True, little_endian=True)  # no preamble, no file meta
    data = buf.getvalue()
    assert data[128:132] != b"DICM"
    study = read_study([RawFile("bare", data)])
    assert study.shape == (1, 1, 4, 4)
