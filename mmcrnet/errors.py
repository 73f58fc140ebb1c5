"""The project's exception family: every message is one line that names what is wrong.

Pages and the CLI catch :class:`OncoPredictError` and show ``str(error)``; nothing else
reaches the user.
"""

from __future__ import annotations

from dataclasses import dataclass


class OncoPredictError(Exception):
    """Base class: a problem with the user's input that the user can fix."""


# --- images ---------------------------------------------------------------------------------
class UnreadableImage(OncoPredictError):
    """An uploaded file cannot be turned into an image."""


class CorruptDicom(UnreadableImage):
    """A DICOM file is truncated, damaged or internally inconsistent."""


class NoPixelData(UnreadableImage):
    """A valid DICOM object that holds no image (structured report, RT plan, ...)."""


class WrongFileType(UnreadableImage):
    """The file's content is not what its name or the caller says (e.g. a PDF named .png)."""


class UnsupportedImage(UnreadableImage):
    """A readable image we do not support (modality, encoding, colour model)."""


class MixedSeries(UnreadableImage):
    """Files uploaded together do not form one series (sizes, orientations or modalities differ)."""


class MixedIdentity(MixedSeries):
    """Files uploaded together disagree on Patient ID, Study Instance UID or Frame of Reference."""


class ImageTooLarge(UnreadableImage):
    """An image or archive would decompress beyond the safety limits (decompression bomb)."""


class BadArchive(UnreadableImage):
    """A zip upload is empty, damaged or unsafe."""


class EmptyArchive(BadArchive):
    """A zip upload holds no readable image."""


class UnsafeArchive(BadArchive):
    """A zip upload holds absolute or parent-directory ('..') paths, or links."""


# --- arguments ------------------------------------------------------------------------------
class InvalidArgument(OncoPredictError, ValueError):
    """A value the user chose (a device, a slice, a phase time, a count, a seed) that cannot be
    used. Also a ValueError, for callers that treat it as one."""


# --- training -------------------------------------------------------------------------------
class CorruptCheckpoint(OncoPredictError):
    """A training checkpoint (OUT/checkpoint/) is truncated or damaged and cannot be resumed."""


# --- tabular data ---------------------------------------------------------------------------
class InvalidCase(OncoPredictError):
    """A clinical or genomic value is missing, out of range or of the wrong kind."""


@dataclass(frozen=True)
class CohortProblem:
    """One problem in a cohort folder: where it is and what is wrong."""

    file: str
    row: int | None  # 1-based line number in the file (header is line 1); None for the file
    column: str | None
    message: str

    def __str__(self) -> str:
        where = self.file
        if self.row is not None:
            where += f" line {self.row}"
        if self.column is not None:
            where += f" column '{self.column}'"
        return f"{where}: {self.message}"


class InvalidCohort(OncoPredictError):
    """A cohort folder does not match the schema; ``problems`` lists every problem found."""

    def __init__(self, problems: list[CohortProblem]) -> None:
        self.problems = list(problems)
        first = str(self.problems[0]) if self.problems else "no problems recorded"
        more = len(self.problems) - 1
        suffix = f" (and {more} more problem{'s' if more != 1 else ''})" if more > 0 else ""
        super().__init__(first + suffix)
