"""Where the research workspace keeps things: the server's data root (cohort folders too large
to upload, listed, never typed in), the models root (model folders the app may load), and the
work folder (unpacked uploads, background jobs, models trained from the app).

Configured by environment variables, read once per call (so tests and deployments set them):

    ONCOPREDICT_DATA_ROOT    cohort folders on the server (default: none)
    ONCOPREDICT_WORK         uploads, jobs, trained models (default ~/.local/share/oncopredict)

The models root is the bundled ``models/`` plus ``WORK/models``.
"""

from __future__ import annotations

import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from mmcrnet.checkpoint import CARD
from mmcrnet.errors import CohortProblem, InvalidArgument, InvalidCohort
from mmcrnet.io.sources import DEFAULT_LIMITS, Limits, RawFile, expand_zip

PROJECT = Path(__file__).resolve().parent.parent
BUNDLED_MODEL = PROJECT / "models"
COHORT_FILES = ("cases.csv", "timepoints.csv")  # what makes a folder a cohort
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


@dataclass(frozen=True)
class Workspace:
    """The folders of one server."""

    data_root: Path | None
    work: Path

    @classmethod
    def from_environment(cls) -> Workspace:
        data = os.environ.get("ONCOPREDICT_DATA_ROOT")
        work = os.environ.get("ONCOPREDICT_WORK") or str(
            Path.home() / ".local" / "share" / "oncopredict"
        )
        return cls(Path(data).resolve() if data else None, Path(work).resolve())

    @property
    def uploads(self) -> Path:
        return self.work / "cohorts"

    @property
    def jobs(self) -> Path:
        return self.work / "jobs"

    @property
    def models(self) -> Path:
        return self.work / "models"

    def server_cohorts(self) -> list[Path]:
        """Cohort folders (with cases.csv and timepoints.csv) directly under the data root,
        sorted by name; empty without a data root."""
        return _cohort_folders(self.data_root) if self.data_root else []

    def server_trees(self) -> list[Path]:
        """Folders under the data root that are not cohort folders (DICOM trees to import),
        sorted by name."""
        if self.data_root is None or not self.data_root.is_dir():
            return []
        cohorts = set(self.server_cohorts())
        return sorted(
            (p for p in self.data_root.iterdir() if p.is_dir() and p not in cohorts),
            key=lambda p: p.name.lower(),
        )

    def uploaded_cohorts(self) -> list[Path]:
        return _cohort_folders(self.uploads)

    def model_folders(self) -> list[Path]:
        """The bundled model first, then every model folder under WORK/models (newest first)."""
        found = [BUNDLED_MODEL] if (BUNDLED_MODEL / CARD).is_file() else []
        if self.models.is_dir():
            trained = [p for p in self.models.iterdir() if (p / CARD).is_file()]
            found += sorted(trained, key=lambda p: p.stat().st_mtime, reverse=True)
        return found

    def allowed_model(self, folder: Path | str) -> Path:
        """``folder`` when it is one of :meth:`model_folders` (a page never loads a path a
        user typed).

        Raises:
            InvalidArgument: it is not.
        """
        resolved = Path(folder).resolve()
        if resolved not in [p.resolve() for p in self.model_folders()]:
            raise InvalidArgument(f"'{Path(folder).name}' is not a model folder of this server")
        return resolved


def _cohort_folders(root: Path) -> list[Path]:
    if not root.is_dir():
        return []
    return sorted(
        (p for p in root.iterdir() if p.is_dir() and all((p / f).is_file() for f in COHORT_FILES)),
        key=lambda p: p.name.lower(),
    )


def check_name(name: str) -> str:
    """A folder name chosen by a user: letters, digits, '.', '_' and '-', up to 64.

    Raises:
        InvalidArgument: anything else (named).
    """
    if not NAME.match(name):
        raise InvalidArgument(
            f"name '{name[:80]}' must be 1-64 letters, digits, '.', '_' or '-', "
            "starting with a letter or digit"
        )
    return name


def unpack_cohort(
    archive: RawFile, destination: Path, limits: Limits = DEFAULT_LIMITS
) -> list[str]:
    """Unpack a cohort zip (the cohort format, at its top level or in one folder) into
    ``destination``, which must not exist yet. Names and sizes are checked before anything is
    written (no absolute paths, '..', links or zip bombs).

    Returns:
        the members left out (macOS metadata, hidden files), one line each.
    Raises:
        BadArchive, UnsafeArchive, ImageTooLarge: the archive (named).
        InvalidCohort: it holds no cases.csv and timepoints.csv at its top or in one folder.
        InvalidArgument: ``destination`` exists.
    """
    if destination.exists():
        raise InvalidArgument(f"a cohort named '{destination.name}' exists already")
    members, left_out = expand_zip(archive, limits)
    prefix = f"{archive.name}/"
    paths = {m.name.removeprefix(prefix): m.data for m in members}
    top = _cohort_top(paths)
    if top is None:
        problem = "holds no cases.csv and timepoints.csv at its top or in one folder"
        raise InvalidCohort([CohortProblem(archive.name, None, None, problem)])
    partial = destination.with_name(destination.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    try:
        for name, data in paths.items():
            if not name.startswith(top) or name.endswith("/"):
                continue
            target = partial / name.removeprefix(top)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
        partial.rename(destination)
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    return left_out


def _cohort_top(paths: dict[str, bytes]) -> str | None:
    """'' when the cohort files are at the archive's top, 'folder/' when in one folder."""
    if all(f in paths for f in COHORT_FILES):
        return ""
    tops = {name.split("/", 1)[0] for name in paths if "/" in name}
    for top in sorted(tops):
        if all(f"{top}/{f}" in paths for f in COHORT_FILES):
            return f"{top}/"
    return None
