"""PNG/JPEG reading: bit depths, colour to luminance, EXIF orientation, phase order, bombs."""

from __future__ import annotations

import struct
import zlib
from typing import Any, Callable

import numpy as np
import pytest

from mmcrnet.errors import ImageTooLarge, MixedSeries, UnreadableImage
from mmcrnet.io import RawFile, read_study

Encoder = Callable[..., bytes]


def test_png_8bit(png_bytes: Encoder) -> None:
    arr = np.tile(np.arange(0, 256, 4, dtype=np.uint8), (10, 1))
    study = read_study([RawFile("scan.png", png_bytes(arr))], modality="mg")
    assert study.shape == (1, 1, 10, 64)
    assert study.window == (0.0, 255.0)
    np.testing.assert_allclose(study.image[0], arr / 255.0, atol=1e-6)
    assert study.modality == "MG" and study.kind == "mammogram"
    assert study.pixel_spacing_mm is None and study.slice_positions_mm is None
    assert study.transfer_syntaxes == ("PNG",)
    assert study.phases[0].label == "image" and study.phases[0].time_s is None


def test_png_16bit(png_bytes: Encoder) -> None:
    arr = (np.arange(100, dtype=np.uint16).reshape(10, 10) * 400).astype(np.uint16)
    study = read_study([RawFile("deep.png", png_bytes(arr))])
    assert study.shape == (1, 1, 10, 10)
    assert study.modality == "OT" and study.kind == "other"
    assert study.image[0, 0, 0] == 0.0 and study.image[0, -1, -1] == 1.0
    assert study.window[1] > 255  # 16-bit values kept, not squashed to 8 bits


def test_rgb_jpeg_to_luminance(png_bytes: Encoder) -> None:
    rgb = np.zeros((16, 16, 3), dtype=np.uint8)
    rgb[..., 0] = 255  # pure red
    study = read_study([RawFile("photo.jpg", png_bytes(rgb, fmt="JPEG", quality=95))], modality="MR")
    assert study.shape == (1, 1, 16, 16)
    assert study.kind == "mri"
    assert study.transfer_syntaxes == ("JPEG",)
    assert float(study.image.mean()) == pytest.approx(0.299, abs=0.02)


def test_jpeg_exif_orientation_applied() -> None:
    from io import BytesIO

    from PIL import Image

    img = Image.new("L", (20, 10), 128)  # 20 wide, 10 high
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees when displayed
    buf = BytesIO()
    img.save(buf, format="JPEG", exif=exif)
    study = read_study([RawFile("rotated.jpg", buf.getvalue())])
    assert study.shape == (1, 1, 20, 10)


def test_several_pngs_are_phases_in_natural_order(png_bytes: Encoder) -> None:
    files = [RawFile(f"{n}.png", png_bytes(np.full((4, 4), n, dtype=np.uint8))) for n in (10, 2, 1)]
    study = read_study(files)
    assert study.shape == (3, 1, 4, 4)
    assert study.sources == ("1.png", "2.png", "10.png")
    assert [round(float(v) * 255) for v in study.image[:, 0, 0]] == [1, 2, 10]
    assert [p.label for p in study.phases] == ["pre", "early", "late"]


def test_pngs_of_different_size(png_bytes: Encoder, one_line: Any) -> None:
    a = RawFile("a.png", png_bytes(np.zeros((4, 4), dtype=np.uint8)))
    b = RawFile("b.png", png_bytes(np.zeros((5, 4), dtype=np.uint8)))
    with pytest.raises(MixedSeries) as exc:
        read_study([a, b])
    one_line(exc, "b.png")


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def test_png_declaring_huge_size(one_line: Any) -> None:
    header = struct.pack(">IIBBBBB", 100_000, 100_000, 8, 0, 0, 0, 0)
    data = (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", zlib.compress(b"\x00" * 16))
        + _chunk(b"IEND", b"")
    )
    with pytest.raises(ImageTooLarge) as exc:
        read_study([RawFile("huge.png", data)])
    one_line(exc, "huge.png")


def test_truncated_png(png_bytes: Encoder, one_line: Any) -> None:
    data = png_bytes(np.random.default_rng(0).integers(0, 255, (64, 64), dtype=np.uint8))
    with pytest.raises(UnreadableImage) as exc:
        read_study([RawFile("cut.png", data[: len(data) // 2])])
    one_line(exc, "cut.png")
