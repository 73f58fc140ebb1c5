"""The Cohorts page: a zip uploaded and checked, a broken cohort's problems listed with file,
line and column, a server folder batch-predicted in the background and its result shown with
metrics, plots and downloads, a case opened on Predict."""

from __future__ import annotations

import io
import json
import shutil
import time
import zipfile
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from mmcrnet.jobs import list_jobs

ROOT = Path(__file__).resolve().parent.parent.parent
APP = str(ROOT / "app.py")


@pytest.fixture()
def workspace(tmp_path: Path, examples_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    data = tmp_path / "data"
    shutil.copytree(examples_dir, data / "examples-copy")
    (data / "not-a-cohort").mkdir()
    monkeypatch.setenv("ONCOPREDICT_DATA_ROOT", str(data))
    monkeypatch.setenv("ONCOPREDICT_WORK", str(tmp_path / "work"))
    return tmp_path


def _page() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=180).run()
    at.switch_page("pages/cohorts.py").run()
    assert not at.exception
    return at


def _zip(folder: Path, inside: str = "") -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                archive.write(path, inside + str(path.relative_to(folder)))
    return buffer.getvalue()


def test_a_server_cohort_is_checked_predicted_and_evaluated(workspace: Path) -> None:
    at = _page()
    at.radio(key="cohorts.source").set_value("On this server").run()
    folder_box = at.selectbox(key="cohorts.folder.On this server")
    assert folder_box.options == ["examples-copy"]  # only cohort folders are listed
    folder_box.set_value("examples-copy").run()
    assert not at.exception
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Cases"] == "12" and metrics["With an outcome"] == "12"
    at.button(key="cohorts.start").click().run()
    assert not at.exception
    jobs = list_jobs(workspace / "work" / "jobs", "predict")
    assert len(jobs) == 1
    deadline = time.monotonic() + 240
    while list_jobs(workspace / "work" / "jobs")[0].running and time.monotonic() < deadline:
        time.sleep(0.5)
    # a reload: a new session finds the cohort's newest job on the server
    at = _page()
    at.radio(key="cohorts.source").set_value("On this server").run()
    at.selectbox(key="cohorts.folder.On this server").set_value("examples-copy").run()
    assert not at.exception
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Predicted"] == "11" and metrics["Flagged by the guard"] == "1"
    assert any("macro AUC" in m.value for m in at.markdown)
    table = at.dataframe[-1].value
    assert len(table) == 12 and set(table["status"]) == {"predicted", "flagged"}
    assert [b.label for b in at.get("download_button")] == ["Download CSV", "Download JSON lines"]
    at.selectbox(key="cohorts.open").set_value("PH00019").run()
    at.button(key="cohorts.open_button").click().run()
    assert not at.exception
    assert at.number_input(key="predict.field.age").value is not None  # on Predict, filled


def test_an_uploaded_zip_is_unpacked_and_a_broken_one_listed(
    workspace: Path, examples_dir: Path
) -> None:
    at = _page()
    at.file_uploader(key="cohorts.upload").set_value(
        ("my cohort.zip", _zip(examples_dir, "cohort/"), "application/zip")
    ).run()
    assert at.text_input(key="cohorts.name").value == "my-cohort"
    at.button(key="cohorts.unpack").click().run()
    assert not at.exception
    assert (workspace / "work" / "cohorts" / "my-cohort" / "cases.csv").is_file()
    assert {m.label: m.value for m in at.metric}["Cases"] == "12"

    broken = workspace / "broken"
    shutil.copytree(examples_dir, broken)
    text = (broken / "cases.csv").read_text().splitlines()
    header = text[0].split(",")
    row = text[2].split(",")
    row[header.index("grade")] = "7"
    text[2] = ",".join(row)
    (broken / "cases.csv").write_text("\n".join(text) + "\n")
    at.file_uploader(key="cohorts.upload").set_value(
        ("broken.zip", _zip(broken), "application/zip")
    ).run()
    at.button(key="cohorts.unpack").click().run()
    assert not at.exception
    errors = [e.value for e in at.error if "cohort format" in e.value]
    assert len(errors) == 1 and "cases.csv line 3" in errors[0]
    problems = at.dataframe[-1].value
    assert list(problems.columns) == ["file", "line", "column", "problem"]
    assert problems.iloc[0]["column"] == "grade" and problems.iloc[0]["line"] == 3

    at.file_uploader(key="cohorts.upload").set_value(
        ("other.zip", _zip(examples_dir / "images"), "application/zip")
    ).run()
    at.text_input(key="cohorts.name").set_value("../escape").run()
    at.button(key="cohorts.unpack").click().run()
    assert any("name '../escape' must be" in e.value for e in at.error)


def test_a_dicom_tree_on_the_server_is_imported_with_a_table_and_mapping(
    collection: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = tmp_path / "data"
    data.mkdir()
    shutil.copytree(collection / "Breast-Phantom", data / "Breast-Phantom")
    monkeypatch.setenv("ONCOPREDICT_DATA_ROOT", str(data))
    monkeypatch.setenv("ONCOPREDICT_WORK", str(tmp_path / "work"))
    at = _page()
    at.radio(key="cohorts.source").set_value("Import a DICOM tree").run()
    assert at.selectbox(key="cohorts.tree").options == ["Breast-Phantom"]
    at.file_uploader(key="cohorts.clinical").set_value(
        ("clinical.xlsx", (collection / "clinical.xlsx").read_bytes(), "application/octet-stream")
    ).run()
    mapping = json.loads((collection / "mapping.json").read_text())
    broken = {**mapping, "columns": {**mapping["columns"], "grade": "Grade (missing)"}}
    at.file_uploader(key="cohorts.mapping").set_value(
        ("mapping.json", json.dumps(broken).encode(), "application/json")
    ).run()
    at.button(key="cohorts.import").click().run()
    assert not at.exception
    assert any("1 problem(s); nothing was written" in e.value for e in at.error)
    assert at.dataframe[-1].value.iloc[0]["column"] == "Grade (missing)"
    at.file_uploader(key="cohorts.mapping").set_value(
        ("mapping.json", json.dumps(mapping).encode(), "application/json")
    ).run()
    at.button(key="cohorts.import").click().run()
    assert not at.exception
    assert {m.label: m.value for m in at.metric}["With a DCE-MRI"] == "3"
    assert (tmp_path / "work" / "cohorts" / "Breast-Phantom-import" / "cases.csv").is_file()
