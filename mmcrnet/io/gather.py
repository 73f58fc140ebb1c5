"""Turn an upload (files in memory, or paths) into the image files to read, all of one kind.

Zips are expanded (one level: nested archives are left out), directories recursed, and every
file is sniffed by content. Files inside a zip or directory that are not images are left out
with a note; so is any unreadable file when ``skip_unreadable`` is set. :class:`Gather` carries
the options of one read and its running notes, which become ``Study.warnings`` and
``Study.left_out``.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, NoReturn

from mmcrnet.errors import (
    BadArchive,
    EmptyArchive,
    ImageTooLarge,
    MixedSeries,
    UnreadableImage,
    WrongFileType,
)
from mmcrnet.io.sources import Limits, RawFile, expand_zip, read_paths_as_files, sniff

UploadKind = Literal["dicom", "raster"]


@dataclass(frozen=True)
class Item:
    """One file to read, and where it came from."""

    raw: RawFile
    container: str | None  # zip or directory the file came from (lenient skipping) or None


@dataclass
class Gather:
    """Options and running notes of one read."""

    limits: Limits
    allow_mixed_ids: bool
    skip_unreadable: bool
    isolate: bool = True  # decode pixels in a resource-limited child process (untrusted files)
    notes: list[str] = dataclasses.field(default_factory=list)  # become Study.warnings
    left_out: list[str] = dataclasses.field(default_factory=list)  # "name: reason" per file
    first_error: UnreadableImage | None = None  # error of the first top-level file left out
    containers: dict[str, None] = dataclasses.field(default_factory=dict)  # zips/dirs, in order

    def leave_out(self, name: str, reason: str) -> None:
        """Record a file that is not used (as a warning and in ``left_out``)."""
        line = reason if reason.startswith(f"{name}:") else f"{name}: {reason}"
        self.notes.append(f"skipped {line}")
        self.left_out.append(line)

    def may_skip(
        self, item: Item, exc: UnreadableImage, lenient: tuple[type[UnreadableImage], ...] = ()
    ) -> bool:
        """Leave out ``item`` for ``exc`` if allowed: always with ``skip_unreadable``, and for
        files inside a zip/directory when ``exc`` is one of ``lenient``. Size limits, mixed
        series and bad archives are never skipped."""
        if isinstance(exc, (ImageTooLarge, MixedSeries, BadArchive)):
            return False
        if not self.skip_unreadable and (item.container is None or not isinstance(exc, lenient)):
            return False
        if item.container is None and self.first_error is None:
            self.first_error = exc
        self.leave_out(item.raw.name, str(exc))
        return True

    def raise_empty(self) -> NoReturn:
        """Nothing readable remains: raise the first left-out file's error, else for the first
        archive/directory that yielded no image."""
        if self.first_error is not None:
            raise self.first_error
        for name in self.containers:
            if name.lower().endswith(".zip") or not os.path.isdir(name):
                raise EmptyArchive(f"{name}: the archive holds no readable image")
            raise UnreadableImage(f"{name}: the directory holds no readable image")
        raise UnreadableImage("no readable image in the upload")


def items_from_paths(paths: Sequence[str | os.PathLike[str]], limits: Limits) -> list[Item]:
    """Read files and directories (recursed, natural order; sizes checked before reading)."""
    items: list[Item] = []
    for path in paths:
        container = str(path) if os.path.isdir(path) else None
        items.extend(Item(raw, container) for raw in read_paths_as_files([path], limits))
    return items


def gather_items(items: list[Item], gather: Gather) -> tuple[UploadKind, list[Item]]:
    """Check sizes, sniff every file and expand zips.

    Returns:
        ("dicom" or "raster", the image files in upload order, zip members in place of their
        zip).

    Raises:
        UnreadableImage: no files, or none of them is an image (the first left-out file's
            error, or EmptyArchive for an archive without images); a file that is not an image
            and may not be skipped.
        ImageTooLarge: a file is larger than ``limits.max_file_bytes``.
        MixedSeries: the upload mixes DICOM and PNG/JPEG files.
    """
    if not items:
        raise UnreadableImage("no files were given")
    limits = gather.limits
    typed: list[tuple[Item, str]] = []
    for item in items:
        raw = item.raw
        if len(raw.data) > limits.max_file_bytes:
            raise ImageTooLarge(
                f"{raw.name}: file is {len(raw.data)} bytes, more than the limit of "
                f"{limits.max_file_bytes}"
            )
        if item.container is not None:
            gather.containers.setdefault(item.container, None)
        try:
            kind = sniff(raw)
        except WrongFileType as exc:
            if not gather.may_skip(item, exc, (WrongFileType,)):
                raise
            continue
        if kind == "zip":
            if item.container is not None:
                gather.leave_out(raw.name, "nested archives are not expanded")
                continue
            members, zip_notes = expand_zip(raw, limits)
            gather.notes.extend(zip_notes)
            gather.containers[raw.name] = None
            for member in members:
                member_item = Item(member, raw.name)
                try:
                    member_kind = sniff(member)
                except WrongFileType as exc:
                    gather.may_skip(member_item, exc, (WrongFileType,))
                    continue
                if member_kind == "zip":
                    gather.leave_out(member.name, "nested archives are not expanded")
                    continue
                typed.append((member_item, member_kind))
        else:
            typed.append((item, kind))

    kinds = {"dicom" if k == "dicom" else "raster" for _, k in typed}
    if len(kinds) > 1:
        dicom_name = next(i.raw.name for i, k in typed if k == "dicom")
        raster_name = next(i.raw.name for i, k in typed if k != "dicom")
        raise MixedSeries(
            f"{dicom_name} is DICOM but {raster_name} is a PNG/JPEG image; upload one kind at "
            "a time"
        )
    if not kinds:
        gather.raise_empty()
    return ("dicom" if kinds == {"dicom"} else "raster"), [i for i, _ in typed]
