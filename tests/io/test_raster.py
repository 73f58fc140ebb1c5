"""PNG/JPEG reading: bit depths, colour to luminance, EXIF orientation, phase order, bombs."""

from __future__ import annotations

import struct
import zlib
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from mmcrnet.errors import ImageTooLarge, MixedSeries, UnreadableImage
from mmcrnet.io import RawFile, read_study
from mmcrnet.io.sources import natural_key

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
    study = read_study(
        [RawFile("photo.jpg", png_bytes(rgb, fmt="JPEG", quality=95))], modality="MR"
    )
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


def test_pngs_without_phase_info_are_unassigned(png_bytes: Encoder) -> None:
    """Upload order never decides phases: natural name order, labelled by file name."""
    files = [RawFile(f"{n}.png", png_bytes(np.full((4, 4), n, dtype=np.uint8))) for n in (10, 2, 1)]
    study = read_study(files)
    assert study.shape == (3, 1, 4, 4)
    assert study.sources == ("1.png", "2.png", "10.png")
    assert [round(float(v) * 255) for v in study.image[:, 0, 0]] == [1, 2, 10]
    assert study.phase_source == "unassigned"
    assert [p.label for p in study.phases] == ["1.png", "2.png", "10.png"]
    assert [p.sources for p in study.phases] == [("1.png",), ("2.png",), ("10.png",)]
    assert all(p.time_s is None for p in study.phases)


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


# --- phases of PNG/JPEG images: from names or metadata, never from upload order -----------------


def _pngs(
    png_bytes: Encoder, names: list[str], texts: list[dict[str, str]] | None = None
) -> list[RawFile]:
    """One 4x4 PNG per name; pixel [0, 0] = 10 * (position in ``names``) + 10; optional tEXt
    chunks."""
    from PIL.PngImagePlugin import PngInfo

    files = []
    for k, name in enumerate(names):
        info = PngInfo()
        for key, value in (texts[k] if texts else {}).items():
            info.add_text(key, value)
        files.append(
            RawFile(name, png_bytes(np.full((4, 4), 10 * k + 10, dtype=np.uint8), pnginfo=info))
        )
    return files


@pytest.mark.parametrize(
    ("names", "labels", "times"),
    [
        (["case_pre.png", "case_early.png", "case_late.png"], ["pre", "early", "late"], None),
        (["Baseline.png", "post1.png", "DELAYED.png"], ["pre", "early", "late"], None),
        (
            ["pre-contrast.png", "t90s.png", "scan_360sec.png"],
            ["pre", "90 s", "360 s"],
            [0.0, 90.0, 360.0],
        ),
        (
            ["img_90_s.png", "img_0s.png", "img_360s.png"],
            ["pre", "90 s", "360 s"],
            [0.0, 90.0, 360.0],
        ),
        (
            ["pre_0s.png", "early_90s.png", "late_360s.png"],
            ["pre", "early", "late"],
            [0.0, 90.0, 360.0],
        ),
        (
            ["PH00001_phase_1.png", "PH00001_ph2.png", "PH00001_p3.png"],
            ["phase 1", "phase 2", "phase 3"],
            None,
        ),
    ],
)
def test_raster_phases_from_names_ignore_upload_order(
    png_bytes: Encoder, names: list[str], labels: list[str], times: list[float] | None
) -> None:
    files = _pngs(png_bytes, names)
    by_label = {}
    for order in ([0, 1, 2], [2, 0, 1], [1, 2, 0]):
        study = read_study([files[i] for i in order])
        assert study.phase_source == "names"
        assert [p.label for p in study.phases] == labels
        assert [p.time_s for p in study.phases] == (times or [None, None, None])
        by_label[tuple(order)] = [p.sources[0] for p in study.phases]
        assert study.sources == tuple(by_label[tuple(order)])
    assert len({tuple(v) for v in by_label.values()}) == 1  # same study whatever the upload order


def test_raster_phase_from_png_text_chunk(png_bytes: Encoder) -> None:
    """Metadata wins over the name: here the names even claim the opposite order."""
    files = _pngs(
        png_bytes,
        ["late.png", "early.png", "pre.png"],
        [{"phase": "pre"}, {"phase": "early"}, {"phase": "late"}],
    )
    study = read_study(files[::-1])
    assert study.phase_source == "names"
    assert [p.sources[0] for p in study.phases] == ["late.png", "early.png", "pre.png"]
    assert [round(float(v) * 255) for v in study.image[:, 0, 0]] == [10, 20, 30]

    timed = _pngs(png_bytes, ["a.png", "b.png"], [{"TriggerTime": "90000"}, {"time_s": "0"}])
    study = read_study(timed)
    assert [p.label for p in study.phases] == ["pre", "90 s"]
    assert [p.sources[0] for p in study.phases] == ["b.png", "a.png"]
    assert [p.time_s for p in study.phases] == [0.0, 90.0]


@pytest.mark.parametrize(
    "names",
    [
        ["scan_a.png", "scan_b.png", "scan_c.png"],  # nothing in the names
        ["pre.png", "pre_2.png", "late.png"],  # two "pre"
        ["pre.png", "early.png", "image.png"],  # one image without phase
        ["early_360s.png", "late_90s.png", "pre.png"],  # roles and times disagree
    ],
)
def test_raster_phases_unassigned(png_bytes: Encoder, names: list[str]) -> None:
    study = read_study(_pngs(png_bytes, names))
    assert study.phase_source == "unassigned"
    assert [p.label for p in study.phases] == sorted(names, key=natural_key)
    assert all(p.time_s is None for p in study.phases)


def test_assign_phases_reorders_and_validates(png_bytes: Encoder) -> None:
    study = read_study(_pngs(png_bytes, ["x.png", "y.png", "z.png"]))
    assigned = study.assign_phases({"x.png": 360, "y.png": 0, "z.png": 90})
    assert assigned.phase_source == "user" and study.phase_source == "unassigned"
    assert [p.label for p in assigned.phases] == ["pre", "90 s", "360 s"]
    assert [p.index for p in assigned.phases] == [0, 1, 2]
    assert [p.time_s for p in assigned.phases] == [0.0, 90.0, 360.0]
    assert [p.sources for p in assigned.phases] == [("y.png",), ("z.png",), ("x.png",)]
    assert [round(float(v) * 255) for v in assigned.image[:, 0, 0]] == [20, 30, 10]
    assert assigned.sources == ("y.png", "z.png", "x.png")

    with pytest.raises(ValueError, match="'w.png'"):
        study.assign_phases({"x.png": 0, "y.png": 90, "z.png": 360, "w.png": 1})
    with pytest.raises(ValueError, match="'z.png'"):
        study.assign_phases({"x.png": 0, "y.png": 90})
    with pytest.raises(ValueError, match="'z.png'.*'y.png'"):
        study.assign_phases({"x.png": 0, "y.png": 90, "z.png": 90})
    with pytest.raises(ValueError, match="'x.png'"):
        study.assign_phases({"x.png": -5, "y.png": 90, "z.png": 360})


def test_skip_unreadable_raster(png_bytes: Encoder, one_line: Any) -> None:
    good = _pngs(png_bytes, ["pre.png", "late.png"])
    cut = RawFile("early.png", good[0].data[:40])
    with pytest.raises(UnreadableImage) as exc:
        read_study(good + [cut])
    one_line(exc, "early.png")
    study = read_study(good + [cut], skip_unreadable=True)
    assert [p.label for p in study.phases] == ["pre", "late"]
    assert len(study.left_out) == 1 and study.left_out[0].startswith("early.png: ")
