"""Raw uploads: in-memory files, safety limits, reading paths, sniffing content and safe zip
expansion.

Nothing here decodes pixels; it only decides what each file *is* (by content, never by name) and
turns paths and zip archives into :class:`RawFile` objects held in memory.
"""

from __future__ import annotations

import lzma
import os
import re
import stat
import warnings
import zipfile
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path, PurePosixPath
from typing import Literal

from mmcrnet.errors import (
    BadArchive,
    EmptyArchive,
    ImageTooLarge,
    UnreadableImage,
    UnsafeArchive,
    WrongFileType,
)

FileKind = Literal["dicom", "png", "jpeg", "zip"]

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
JPEG_SOI = b"\xff\xd8\xff"
ZIP_LOCAL = b"PK\x03\x04"
ZIP_EMPTY = b"PK\x05\x06"

# First two bytes of a preamble-less DICOM: group 0x0002 or 0x0008, little or big endian.
_BARE_DICOM_STARTS = (b"\x02\x00", b"\x08\x00", b"\x00\x02", b"\x00\x08")

# (magic prefix, description) for content we recognise but do not read.
_KNOWN_OTHER: tuple[tuple[bytes, str], ...] = (
    (b"%PDF", "a PDF document"),
    (b"GIF87a", "a GIF image"),
    (b"GIF89a", "a GIF image"),
    (b"II*\x00", "a TIFF image"),
    (b"MM\x00*", "a TIFF image"),
    (b"BM", "a BMP image"),
    (b"\x1f\x8b", "a gzip archive"),
    (b"Rar!", "a RAR archive"),
    (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive"),
    (b"\xd0\xcf\x11\xe0", "a Microsoft Office document"),
    (b"RIFF", "a RIFF (WebP/AVI/WAV) file"),
)


@dataclass(frozen=True)
class RawFile:
    """One uploaded file held in memory; ``name`` is what every message shows."""

    name: str  # display name (upload name or path)
    data: bytes


@dataclass(frozen=True)
class Limits:
    """Safety limits checked from headers before anything is decoded or expanded."""

    # A DCE-MRI of 3 phases x 160 slices of 512 x 512 is 126 M pixels (250 MB as 16-bit);
    # a 4-view mammogram set of 4096 x 3328 is 55 M. The limits leave room above both and keep
    # what one upload can cost bounded (about 4 bytes per pixel once decoded).
    max_file_bytes: int = 256 * 2**20  # one file, or one file inflated (deflated DICOM, zip)
    max_pixels_per_image: int = 32 * 2**20  # Rows*Columns*samples of one frame
    max_total_pixels: int = 192 * 2**20  # over the whole study
    max_zip_members: int = 5000
    max_zip_uncompressed_bytes: int = 1 * 2**30  # all members together, counted as read
    max_zip_ratio: float = 100.0  # uncompressed/compressed per member -> ImageTooLarge


DEFAULT_LIMITS = Limits()


def natural_key(name: str) -> tuple[tuple[int, int | str], ...]:
    """Sort key that orders embedded numbers numerically ('2.png' before '10.png')."""
    parts = re.split(r"(\d+)", name.lower())
    return tuple((0, int(p)) if p.isdigit() else (1, p) for p in parts if p != "")


def distinct(values: Sequence[str]) -> tuple[str, ...]:
    """``values`` without repeats, in first-seen order (file names, notes, transfer syntaxes)."""
    return tuple(dict.fromkeys(values))


def describe_content(data: bytes) -> str:
    """Say in a few words what ``data`` looks like (for WrongFileType messages)."""
    if not data:
        return "an empty file"
    for magic, what in _KNOWN_OTHER:
        if data.startswith(magic):
            return what
    head = data[:4096]
    if b"\x00" not in head:
        try:
            text = head.decode("utf-8")
        except UnicodeDecodeError as exc:
            # a multi-byte character cut at the 4096-byte boundary is still text
            text = head[: exc.start].decode("utf-8") if exc.start > len(head) - 4 else ""
        if text and sum(c.isprintable() or c in "\r\n\t" for c in text) >= 0.95 * len(text):
            lowered = text.lstrip().lower()
            if lowered.startswith(("<!doctype html", "<html")):
                return "an HTML page"
            if lowered.startswith("<?xml"):
                return "an XML document"
            return "text"
    return "unknown binary data"


def sniff(raw: RawFile) -> FileKind:
    """Detect a file's type from its content (magic bytes), ignoring its name.

    Raises:
        WrongFileType: the content is not DICOM, PNG, JPEG or zip; the message says what it
            looks like.
    """
    data = raw.data
    if data.startswith(PNG_SIGNATURE):
        return "png"
    if data.startswith(JPEG_SOI):
        return "jpeg"
    if data.startswith(ZIP_LOCAL) or data.startswith(ZIP_EMPTY):
        return "zip"
    if len(data) >= 132 and data[128:132] == b"DICM":
        return "dicom"
    if data[:2] in _BARE_DICOM_STARTS and _is_bare_dicom(data):
        return "dicom"
    what = describe_content(data)
    claimed = _claimed_type(raw.name)
    said = f" although its name says {claimed}" if claimed else ""
    raise WrongFileType(
        f"{raw.name}: the content looks like {what}{said}; expected a DICOM, PNG, JPEG or zip file"
    )


def _claimed_type(name: str) -> str | None:
    suffix = PurePosixPath(name.replace("\\", "/")).suffix.lower()
    return {
        ".dcm": "DICOM",
        ".dicom": "DICOM",
        ".png": "PNG",
        ".jpg": "JPEG",
        ".jpeg": "JPEG",
        ".zip": "zip",
    }.get(suffix)


def _is_bare_dicom(data: bytes) -> bool:
    """True if pydicom can read ``data`` without a preamble and it has a SOP class or pixels."""
    from pydicom import dcmread  # local: keeps importing this module cheap
    from pydicom.errors import InvalidDicomError

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ds = dcmread(BytesIO(data), force=True, stop_before_pixels=False)
            return "SOPClassUID" in ds or "PixelData" in ds
    except (
        InvalidDicomError,
        ValueError,
        EOFError,
        OSError,
        KeyError,
        IndexError,
        TypeError,
        AttributeError,
        NotImplementedError,
        OverflowError,
    ):
        return False  # not DICOM: the caller reports what it looks like instead


def read_paths_as_files(
    paths: Sequence[str | os.PathLike[str]], limits: Limits = DEFAULT_LIMITS
) -> list[RawFile]:
    """Read files (directories are recursed, in sorted order) into memory.

    Hidden files and directories (dot-names) found while recursing are skipped; the file size
    is checked before reading.

    Raises:
        UnreadableImage: a path does not exist or cannot be read.
        ImageTooLarge: a file exceeds ``limits.max_file_bytes``.
    """
    files: list[RawFile] = []
    for given in paths:
        path = Path(given)
        if not path.exists():
            raise UnreadableImage(f"{path}: no such file or directory")
        if path.is_dir():
            found = sorted(
                (
                    p
                    for p in path.rglob("*")
                    if p.is_file()
                    and not any(part.startswith(".") for part in p.relative_to(path).parts)
                ),
                key=lambda p: natural_key(p.relative_to(path).as_posix()),
            )
            if not found:
                raise UnreadableImage(f"{path}: the directory contains no files")
            files.extend(_read_one(p, limits) for p in found)
        else:
            files.append(_read_one(path, limits))
    return files


def _read_one(path: Path, limits: Limits) -> RawFile:
    """A regular file's bytes. FIFOs, devices and sockets (or links to them) are refused
    before opening: a FIFO would block forever and /dev/zero never ends."""
    try:
        info = path.stat()
        if not stat.S_ISREG(info.st_mode):
            raise UnreadableImage(f"{path}: not a regular file (a device, FIFO or socket)")
        if info.st_size > limits.max_file_bytes:
            raise ImageTooLarge(
                f"{path}: file is {info.st_size} bytes, more than the limit of "
                f"{limits.max_file_bytes}"
            )
        with path.open("rb") as fh:
            # read(n) allocates n bytes up front: ask for the size stat gave (plus one byte to
            # see a file that grew since), never for the limit itself
            data = fh.read(min(info.st_size, limits.max_file_bytes) + 1)
            if len(data) > info.st_size:  # it grew after stat: read on, up to the limit
                data += fh.read(limits.max_file_bytes + 1 - len(data))
    except OSError as exc:
        raise UnreadableImage(f"{path}: cannot be read ({exc.strerror or exc})") from exc
    if len(data) > limits.max_file_bytes:
        raise ImageTooLarge(f"{path}: file is more than the limit of {limits.max_file_bytes} bytes")
    return RawFile(name=str(path), data=data)


def check_member_name(archive: str, info: zipfile.ZipInfo) -> None:
    """Reject absolute, drive-letter, parent-directory ('..') and symbolic-link entries.

    Raises:
        UnsafeArchive: the entry could escape an extraction directory.
    """
    name = info.filename.replace("\\", "/")
    mode = info.external_attr >> 16
    if name.startswith("/") or re.match(r"^[A-Za-z]:", name):
        raise UnsafeArchive(f"{archive}: entry '{info.filename}' has an absolute path")
    if ".." in name.split("/"):
        raise UnsafeArchive(f"{archive}: entry '{info.filename}' contains '..'")
    if stat.S_ISLNK(mode):
        raise UnsafeArchive(f"{archive}: entry '{info.filename}' is a symbolic link")


def _is_metadata_entry(name: str) -> bool:
    parts = name.replace("\\", "/").split("/")
    return parts[0] == "__MACOSX" or any(p.startswith(".") for p in parts if p)


def expand_zip(raw: RawFile, limits: Limits = DEFAULT_LIMITS) -> tuple[list[RawFile], list[str]]:
    """Read the members of a zip upload into memory, checking names and sizes first.

    Directories, ``__MACOSX/`` and dot-files are skipped (one summary warning). Members are
    named ``<zip name>/<member path>``. Content is not sniffed here.

    Returns:
        The member files in natural name order, and warnings about skipped entries.

    Raises:
        BadArchive: the archive is damaged or encrypted.
        EmptyArchive: the archive has no file entries.
        UnsafeArchive: an entry is absolute, contains '..' or is a link.
        ImageTooLarge: too many entries, too many bytes, or a suspicious compression ratio.
    """
    try:
        zf = zipfile.ZipFile(BytesIO(raw.data))
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, OSError, EOFError) as exc:
        raise BadArchive(f"{raw.name}: not a readable zip archive ({exc})") from exc
    with zf:
        infos = zf.infolist()
        if len(infos) > limits.max_zip_members:
            raise ImageTooLarge(
                f"{raw.name}: archive has {len(infos)} entries, more than the limit of "
                f"{limits.max_zip_members}"
            )
        for info in infos:
            check_member_name(raw.name, info)
        wanted: list[zipfile.ZipInfo] = []
        skipped_meta = 0
        for info in infos:
            if info.is_dir():
                continue
            if _is_metadata_entry(info.filename):
                skipped_meta += 1
                continue
            wanted.append(info)
        total = sum(info.file_size for info in wanted)
        if total > limits.max_zip_uncompressed_bytes:
            raise ImageTooLarge(
                f"{raw.name}: archive would expand to {total} bytes, more than the limit of "
                f"{limits.max_zip_uncompressed_bytes}"
            )
        for info in wanted:
            _check_member_size(raw.name, info, limits)
        members: list[RawFile] = []
        held = 0
        for info in wanted:  # declared sizes can lie: count what is really read
            member = _read_member(raw.name, zf, info, limits)
            held += len(member.data)
            if held > limits.max_zip_uncompressed_bytes:
                raise ImageTooLarge(
                    f"{raw.name}: archive expands to more than the limit of "
                    f"{limits.max_zip_uncompressed_bytes} bytes"
                )
            members.append(member)
    if not members:
        raise EmptyArchive(f"{raw.name}: the archive holds no files")
    notes = []
    if skipped_meta:
        notes.append(
            f"{raw.name}: skipped {skipped_meta} hidden or __MACOSX metadata entr"
            f"{'y' if skipped_meta == 1 else 'ies'}"
        )
    members.sort(key=lambda m: natural_key(m.name))
    return members, notes


def _check_member_size(archive: str, info: zipfile.ZipInfo, limits: Limits) -> None:
    if info.file_size > limits.max_file_bytes:
        raise ImageTooLarge(
            f"{archive}: entry '{info.filename}' is {info.file_size} bytes, more than the limit "
            f"of {limits.max_file_bytes}"
        )
    ratio = info.file_size / max(info.compress_size, 1)
    if info.file_size > 1 << 16 and ratio > limits.max_zip_ratio:
        raise ImageTooLarge(
            f"{archive}: entry '{info.filename}' expands {ratio:.0f}-fold (limit "
            f"{limits.max_zip_ratio:.0f}), refusing a possible zip bomb"
        )


def _read_member(
    archive: str, zf: zipfile.ZipFile, info: zipfile.ZipInfo, limits: Limits
) -> RawFile:
    name = f"{archive}/{info.filename}"
    cap = min(info.file_size, limits.max_file_bytes)
    try:
        with zf.open(info) as fh:
            data = fh.read(cap + 1)  # never trust the declared size: read at most one byte more
    except (
        zipfile.BadZipFile,
        NotImplementedError,
        RuntimeError,
        ValueError,
        OSError,
        EOFError,
        zlib.error,  # a damaged deflate stream
        lzma.LZMAError,  # a damaged LZMA member
    ) as exc:
        raise BadArchive(f"{name}: cannot extract the entry ({exc})") from exc
    if len(data) > cap:
        raise ImageTooLarge(f"{name}: entry holds more data than its header declares")
    return RawFile(name=name, data=data)
