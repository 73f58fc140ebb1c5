"""The workspace: folders from the environment, cohort folders listed (never typed), zips
unpacked safely, model folders limited to the server's own."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest

from mmcrnet.errors import InvalidArgument, InvalidCohort, UnsafeArchive
from mmcrnet.io import RawFile
from mmcrnet.workspace import BUNDLED_MODEL, Workspace, check_name, unpack_cohort


def _zip(entries: dict[str, bytes]) -> RawFile:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return RawFile("c.zip", buffer.getvalue())


def test_folders_come_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ONCOPREDICT_WORK", str(tmp_path / "w"))
    monkeypatch.delenv("ONCOPREDICT_DATA_ROOT", raising=False)
    workspace = Workspace.from_environment()
    assert workspace.data_root is None and workspace.server_cohorts() == []
    assert workspace.jobs == (tmp_path / "w" / "jobs").resolve()
    (tmp_path / "d" / "b").mkdir(parents=True)
    (tmp_path / "d" / "a").mkdir()
    for name in ("a", "b"):
        for file in ("cases.csv", "timepoints.csv"):
            (tmp_path / "d" / name / file).write_text("case_id\n")
    (tmp_path / "d" / "empty").mkdir()
    monkeypatch.setenv("ONCOPREDICT_DATA_ROOT", str(tmp_path / "d"))
    assert [p.name for p in Workspace.from_environment().server_cohorts()] == ["a", "b"]


def test_a_cohort_zip_unpacks_at_its_top_or_from_one_folder(tmp_path: Path) -> None:
    files = {"cases.csv": b"case_id\n", "timepoints.csv": b"case_id,time_point\n"}
    unpack_cohort(_zip(files), tmp_path / "top")
    assert sorted(p.name for p in (tmp_path / "top").iterdir()) == ["cases.csv", "timepoints.csv"]
    inside = {f"cohort/{k}": v for k, v in files.items()} | {"cohort/images/A/x.png": b"1"}
    left = unpack_cohort(_zip({**inside, "__MACOSX/._x": b""}), tmp_path / "one")
    assert (tmp_path / "one" / "images" / "A" / "x.png").read_bytes() == b"1"
    assert left  # the macOS metadata is said, not silently dropped
    with pytest.raises(InvalidArgument, match="exists already"):
        unpack_cohort(_zip(files), tmp_path / "top")
    with pytest.raises(InvalidCohort, match="holds no cases.csv and timepoints.csv"):
        unpack_cohort(_zip({"a/cases.csv": b"", "b/timepoints.csv": b""}), tmp_path / "x")
    assert not (tmp_path / "x").exists() and not (tmp_path / "x.partial").exists()


def test_unsafe_archives_and_names_are_refused(tmp_path: Path) -> None:
    with pytest.raises(UnsafeArchive, match="contains '..'"):
        unpack_cohort(_zip({"../cases.csv": b"", "timepoints.csv": b""}), tmp_path / "u")
    for bad in ("../x", "", ".hidden", "a/b", "x" * 65):
        with pytest.raises(InvalidArgument, match="must be 1-64 letters"):
            check_name(bad)
    assert check_name("cohort_2024-v1.0") == "cohort_2024-v1.0"


def test_only_the_servers_model_folders_may_be_loaded(tmp_path: Path) -> None:
    workspace = Workspace(None, tmp_path)
    assert workspace.model_folders()[0] == BUNDLED_MODEL
    assert workspace.allowed_model(BUNDLED_MODEL) == BUNDLED_MODEL.resolve()
    with pytest.raises(InvalidArgument, match="is not a model folder of this server"):
        workspace.allowed_model(tmp_path)
