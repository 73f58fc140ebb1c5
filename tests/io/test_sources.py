"""Content sniffing, zip expansion and safety, reading paths."""

from __future__ import annotations

import zipfile
from collections.abc import Callable
from io import BytesIO
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from mmcrnet.errors import (
    BadArchive,
    EmptyArchive,
    ImageTooLarge,
    UnreadableImage,
    UnsafeArchive,
    WrongFileType,
)
from mmcrnet.io import Limits, RawFile, read_paths, read_study
from mmcrnet.io.sources import natural_key, sniff

SeriesBuilder = Callable[..., list[RawFile]]


def make_zip(entries: list[tuple[str | zipfile.ZipInfo, bytes]]) -> bytes:
    buf = BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, data in entries:
            zf.writestr(name, data)
    return buf.getvalue()


@pytest.mark.parametrize(
    ("name", "data", "looks_like"),
    [
        ("scan.dcm", b"Patient notes: nothing to see here.\n", "text"),
        ("image.png", b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n", "PDF"),
        ("empty.dcm", b"", "empty"),
        ("blob.jpg", bytes(range(1, 256)) * 4 + b"\x00", "unknown binary"),
    ],
)
def test_wrong_file_type(name: str, data: bytes, looks_like: str, one_line: Any) -> None:
    with pytest.raises(WrongFileType) as exc:
        read_study([RawFile(name, data)])
    one_line(exc, name)
    assert looks_like in str(exc.value)


def test_sniff_ignores_extension(testdata: Callable[[str], RawFile]) -> None:
    mr = testdata("MR_small.dcm")
    assert sniff(RawFile("actually_dicom.png", mr.data)) == "dicom"
    assert sniff(RawFile("x", b"PK\x05\x06" + b"\x00" * 18)) == "zip"


def test_natural_key() -> None:
    assert sorted(["10.png", "2.png", "1.png"], key=natural_key) == ["1.png", "2.png", "10.png"]


def test_zip_reads_like_loose_files(dce_files: SeriesBuilder) -> None:
    files = dce_files()
    loose = read_study(files)
    archive = RawFile("series.zip", make_zip([(f"DCE/{f.name}", f.data) for f in files]))
    zipped = read_study([archive])
    np.testing.assert_array_equal(zipped.image, loose.image)
    assert zipped.shape == loose.shape and zipped.slice_index == loose.slice_index
    assert all(s.startswith("series.zip/DCE/") for s in zipped.sources)
    assert zipped.warnings == ()


def test_zip_with_clutter_warns(
    dce_files: SeriesBuilder, testdata: Callable[[str], RawFile]
) -> None:
    files = dce_files()
    entries: list[tuple[str | zipfile.ZipInfo, bytes]] = [(f"s/{f.name}", f.data) for f in files]
    entries += [
        ("s/README.txt", b"exported by the scanner\n"),
        ("__MACOSX/s/._p0_s0.dcm", b"\x00\x05\x16\x07junk"),
        ("s/.DS_Store", b"\x00\x00\x00\x01Bud1"),
        ("s/report.dcm", testdata("reportsi.dcm").data),
        ("s/sub/", b""),
    ]
    study = read_study([RawFile("upload.zip", make_zip(entries))])
    assert study.shape == (3, 4, 32, 32)
    text = " | ".join(study.warnings)
    assert "README.txt" in text and "report.dcm" in text and "__MACOSX" in text
    assert all("\n" not in w for w in study.warnings)


def test_empty_zip(one_line: Any) -> None:
    with pytest.raises(EmptyArchive) as exc:
        read_study([RawFile("empty.zip", make_zip([]))])
    one_line(exc, "empty.zip")


def test_zip_with_only_readme(one_line: Any) -> None:
    with pytest.raises(EmptyArchive) as exc:
        read_study([RawFile("notes.zip", make_zip([("README.txt", b"hello\n")]))])
    one_line(exc, "notes.zip")


@pytest.mark.parametrize("member", ["../evil.dcm", "/abs.dcm", "a/../../evil.dcm", "C:/win.dcm"])
def test_unsafe_member_names(member: str, one_line: Any) -> None:
    data = make_zip([(zipfile.ZipInfo(member), b"x")])
    with pytest.raises(UnsafeArchive) as exc:
        read_study([RawFile("evil.zip", data)])
    one_line(exc, "evil.zip")


def test_symlink_member(one_line: Any) -> None:
    info = zipfile.ZipInfo("link.dcm")
    info.external_attr = 0o120777 << 16
    with pytest.raises(UnsafeArchive) as exc:
        read_study([RawFile("links.zip", make_zip([(info, b"/etc/passwd")]))])
    one_line(exc, "links.zip")


def test_zip_bomb_ratio_is_too_large(one_line: Any) -> None:
    """A member expanding more than ``max_zip_ratio``-fold is refused as ImageTooLarge."""
    data = make_zip([("bomb.dcm", b"\x00" * (8 * 2**20))])
    with pytest.raises(ImageTooLarge) as exc:
        read_study([RawFile("bomb.zip", data)])
    one_line(exc, "bomb.zip")


def test_zip_member_count_limit(dce_files: SeriesBuilder, one_line: Any) -> None:
    files = dce_files()
    data = make_zip([(f.name, f.data) for f in files])
    with pytest.raises(ImageTooLarge) as exc:
        read_study([RawFile("many.zip", data)], limits=Limits(max_zip_members=5))
    one_line(exc, "many.zip")


def test_damaged_zip(one_line: Any) -> None:
    with pytest.raises(BadArchive) as exc:
        read_study([RawFile("broken.zip", b"PK\x03\x04" + b"\x00" * 40)])
    one_line(exc, "broken.zip")


def test_file_size_limit(testdata: Callable[[str], RawFile], one_line: Any) -> None:
    with pytest.raises(ImageTooLarge) as exc:
        read_study([testdata("MR_small.dcm")], limits=Limits(max_file_bytes=1000))
    one_line(exc, "MR_small.dcm")


def test_read_paths_directory(tmp_path: Path, dce_files: SeriesBuilder) -> None:
    files = dce_files()
    series = tmp_path / "series"
    series.mkdir()
    for f in files:
        (series / f.name).write_bytes(f.data)
    (series / "DICOMDIR.txt").write_text("index\n")
    (series / ".hidden").write_bytes(b"\x00")
    study = read_paths([series])
    assert study.shape == (3, 4, 32, 32)
    np.testing.assert_array_equal(study.image, read_study(files).image)
    assert any("DICOMDIR.txt" in w for w in study.warnings)
    single = read_paths([series / "p0_s0.dcm"])
    assert single.shape == (1, 1, 32, 32)


def test_read_paths_missing(tmp_path: Path, one_line: Any) -> None:
    missing = tmp_path / "nope.dcm"
    with pytest.raises(UnreadableImage) as exc:
        read_paths([missing])
    one_line(exc, "nope.dcm")


def test_read_paths_explicit_non_image_raises(tmp_path: Path) -> None:
    note = tmp_path / "note.dcm"
    note.write_text("not an image\n")
    with pytest.raises(WrongFileType):
        read_paths([note])


def test_no_files() -> None:
    with pytest.raises(UnreadableImage):
        read_study([])


def test_reading_a_small_file_allocates_about_its_size(tmp_path: Path) -> None:
    import tracemalloc

    from mmcrnet.io.sources import read_paths_as_files

    path = tmp_path / "small.dcm"
    path.write_bytes(b"x" * 100_000)
    tracemalloc.start()
    try:
        (raw,) = read_paths_as_files([path])
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert raw.data == b"x" * 100_000
    assert peak < 2_000_000  # not the 256 MB limit allocated for every file
