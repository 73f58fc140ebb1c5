"""Hostile uploads found by fuzzing, one test per site: each is refused with our own one-line
error, quickly and without the memory it asks for."""

from __future__ import annotations

import io
import os
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from pydicom import dcmread
from pydicom.uid import DeflatedExplicitVRLittleEndian

from mmcrnet.errors import (
    BadArchive,
    CorruptDicom,
    ImageTooLarge,
    UnreadableImage,
    UnsupportedImage,
)
from mmcrnet.io import RawFile, read_paths, read_study
from mmcrnet.io.sources import Limits
from mmcrnet.preprocess import model_image
from tests.io.conftest import base_dataset, dataset_bytes


def _one_line(exc: pytest.ExceptionInfo[BaseException]) -> str:
    text = str(exc.value)
    assert "\n" not in text and len(text) < 300, text
    return text


def test_a_tiny_file_declaring_30_million_frames_is_refused_before_decoding() -> None:
    ds = base_dataset(np.zeros((1, 1), np.uint16))
    ds.NumberOfFrames = 30_000_000
    raw = RawFile("frames.dcm", dataset_bytes(ds))
    assert len(raw.data) < 1024
    with pytest.raises(CorruptDicom) as exc:
        read_study([raw])
    assert "declares" in _one_line(exc)


def test_an_rle_file_declaring_a_million_frames_is_refused(
    testdata: Callable[[str], RawFile],
) -> None:
    ds = dcmread(io.BytesIO(testdata("MR_small_RLE.dcm").data))
    ds.Rows = ds.Columns = 1
    ds.NumberOfFrames = 1_000_000
    out = io.BytesIO()
    ds.save_as(out)
    with pytest.raises(CorruptDicom) as exc:
        read_study([RawFile("rle.dcm", out.getvalue())])
    assert "1000000 frames" in _one_line(exc)


def test_missing_fragments_are_named_not_a_stop_iteration(
    testdata: Callable[[str], RawFile],
) -> None:
    ds = dcmread(io.BytesIO(testdata("SC_rgb_jpeg_dcmtk.dcm").data))
    ds.NumberOfFrames = 3  # one fragment holds one frame
    out = io.BytesIO()
    ds.save_as(out)
    with pytest.raises(CorruptDicom) as exc:
        read_study([RawFile("frames.dcm", out.getvalue())])
    assert "StopIteration" in _one_line(exc) or "truncated" in _one_line(exc)


def _deflated(pixels: np.ndarray) -> bytes:
    ds = base_dataset(pixels)
    ds.file_meta.TransferSyntaxUID = DeflatedExplicitVRLittleEndian
    out = io.BytesIO()
    ds.save_as(out, enforce_file_format=True)
    return out.getvalue()


def test_a_deflated_file_that_inflates_past_the_limit_is_refused_before_pydicom() -> None:
    data = _deflated(np.zeros((512, 512), np.uint16))  # 512 KiB of zeros, about 1 KiB deflated
    assert len(data) < 4096
    with pytest.raises(ImageTooLarge) as exc:
        read_study([RawFile("deflated.dcm", data)], limits=Limits(max_file_bytes=256 * 1024))
    assert "inflates to more than" in _one_line(exc)
    assert read_study([RawFile("deflated.dcm", data)]).image.shape[-2:] == (512, 512)


def test_a_damaged_deflate_stream_is_corrupt_dicom() -> None:
    data = bytearray(_deflated(np.arange(64 * 64, dtype=np.uint16).reshape(64, 64)))
    # The deflate stream starts after the file meta: 128 + "DICM" + (0002,0000) (12 bytes)
    # + the group length it holds. Its first byte set to 0xFF declares a reserved block type,
    # which no inflater accepts. (Damaging bytes near the end, as before, depended on the
    # random UIDs: about one file in five still inflated.)
    start = 144 + int.from_bytes(data[140:144], "little")
    data[start] = 0xFF
    with pytest.raises(CorruptDicom) as exc:
        read_study([RawFile("deflated.dcm", bytes(data))])
    assert "damaged" in _one_line(exc)


def test_an_unknown_vr_in_the_file_meta_is_corrupt_dicom(
    make_dicom: Callable[..., RawFile],
) -> None:
    raw = make_dicom("vr.dcm", np.zeros((8, 8), np.uint16))
    data = bytearray(raw.data)
    at = data.find(b"\x02\x00\x10\x00UI")  # (0002,0010) Transfer Syntax UID
    data[at + 4 : at + 6] = b"ZZ"
    with pytest.raises(CorruptDicom) as exc:
        read_study([RawFile("vr.dcm", bytes(data))])
    _one_line(exc)


def _zip_member(method: int, data: bytes) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", method) as zf:
        zf.writestr("series/a.dcm", data)
    return buf.getvalue()


@pytest.mark.parametrize("method", [zipfile.ZIP_DEFLATED, zipfile.ZIP_LZMA])
def test_a_damaged_zip_member_is_a_bad_archive(method: int) -> None:
    archive = bytearray(_zip_member(method, os.urandom(2000) + b"\x00" * 50_000))
    start = archive.find(b"series/a.dcm") + len("series/a.dcm")
    archive[start + 20 : start + 60] = b"\xaa" * 40  # inside the compressed stream
    with pytest.raises(BadArchive) as exc:
        read_study([RawFile("upload.zip", bytes(archive))])
    _one_line(exc)


def test_a_zip_whose_members_lie_about_their_size_is_refused_as_read() -> None:
    members = [b"\x00" * 300_000 for _ in range(4)]
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for i, member in enumerate(members):
            zf.writestr(f"m{i}.dcm", member)
    limits = Limits(max_zip_uncompressed_bytes=1_000_000, max_zip_ratio=10_000)
    with pytest.raises(ImageTooLarge) as exc:
        read_study([RawFile("bomb.zip", buf.getvalue())], limits=limits)
    assert "bomb.zip" in _one_line(exc)


def _png(width: int, height: int, mode: str = "L") -> bytes:
    out = io.BytesIO()
    Image.new(mode, (width, height)).save(out, "PNG", optimize=True)
    return out.getvalue()


def test_a_long_strip_is_refused_before_it_is_padded_to_a_square() -> None:
    study = read_study([RawFile("strip.png", _png(65535, 96))], modality="MG")
    with pytest.raises(UnsupportedImage) as exc:
        model_image(study)
    assert "65535 x 96" in _one_line(exc)


def test_a_small_png_declaring_8192_squared_rgb_is_refused_before_decoding() -> None:
    data = _png(8192, 8192, "RGB")
    assert len(data) < 400_000
    with pytest.raises(ImageTooLarge) as exc:
        read_study([RawFile("big.png", data)], modality="MG")
    _one_line(exc)


def test_a_fifo_or_a_device_is_not_read(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.dcm"
    os.mkfifo(fifo)
    with pytest.raises(UnreadableImage, match="not a regular file"):
        read_paths([fifo])
    zero = tmp_path / "zero.dcm"
    zero.symlink_to("/dev/zero")
    with pytest.raises(UnreadableImage, match="not a regular file"):
        read_paths([zero])


def test_parser_warnings_never_quote_header_values(make_dicom: Callable[..., RawFile]) -> None:
    raw = make_dicom("w.dcm", np.zeros((8, 8), np.uint16))
    ds = dcmread(io.BytesIO(raw.data))
    ds.add_new((0x0008, 0x1155), "UI", "1.2.SMITHJOHN.5")
    study = read_study([RawFile("w.dcm", dataset_bytes(ds))])
    assert study.warnings and not any("SMITH" in w for w in study.warnings)


RLE_PANIC = Path(__file__).parent / "data" / "rle_panic.dcm"  # a mutated MR_small_RLE.dcm


def test_a_rust_decoder_panic_is_corrupt_dicom_in_and_out_of_the_sandbox() -> None:
    from pydicom.pixels import pixel_array

    data = RLE_PANIC.read_bytes()
    with pytest.raises(BaseException) as panic:  # what pylibjpeg-rle does with it
        pixel_array(dcmread(io.BytesIO(data)), decoding_plugin="pylibjpeg")
    assert type(panic.value).__name__ == "PanicException"
    for isolate in (False, True):
        with pytest.raises(CorruptDicom, match="decoder failed"):
            read_study([RawFile("rle.dcm", data)], isolate=isolate)
