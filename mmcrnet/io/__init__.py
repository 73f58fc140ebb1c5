"""Reading medical images: DICOM (single, series, multi-frame, zip of a series) and PNG/JPEG.

Everything works in memory from bytes; errors are :mod:`mmcrnet.errors` exceptions whose message
is one line naming the file.
"""

from __future__ import annotations

from mmcrnet.io.phase import SliceSource
from mmcrnet.io.sources import DEFAULT_LIMITS, Limits, RawFile
from mmcrnet.io.study import Phase, Study, read_paths, read_study

__all__ = [
    "DEFAULT_LIMITS",
    "Limits",
    "Phase",
    "RawFile",
    "SliceSource",
    "Study",
    "read_paths",
    "read_study",
]
