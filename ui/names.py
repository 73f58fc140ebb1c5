"""Files as the pages name them: their own names, never the folders or server paths above them
(folder names can carry a patient's name; server paths say where the server keeps its files)."""

from __future__ import annotations

import re
from pathlib import PurePath

from mmcrnet import Study
from mmcrnet.report import file_names


def shown_name(source: str) -> str:
    """A file as the page names it: its own name, never the folders or the server path above
    it (those can carry a patient's name, or say where the server keeps its files)."""
    return PurePath(source.replace("\\", "/")).name


def shown(text: str, study: Study) -> str:
    """``text`` (a warning, a left-out line) with every file of ``study`` by :func:`shown_name`."""
    for source in sorted(file_names(study), key=len, reverse=True):
        text = text.replace(source, shown_name(source))
    return text


_MARKDOWN = re.compile(r"([\\`*_\[\]()#|<>~$:])")


def plain(text: str) -> str:
    """Text from a file or another server, shown as it is in markdown: no links, emphasis or
    icons it could carry."""
    return _MARKDOWN.sub(r"\\\1", text)
