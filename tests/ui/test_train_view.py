"""The Train page: a cohort too small is refused before anything starts; a small phantom
model trains in the background with live curves, is found again after a reload, compared with
the bundled model, offered for download and used by this session on every page."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from mmcrnet.jobs import list_jobs

ROOT = Path(__file__).resolve().parent.parent.parent
APP = str(ROOT / "app.py")


@pytest.fixture()
def work(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("ONCOPREDICT_WORK", str(tmp_path / "work"))
    monkeypatch.delenv("ONCOPREDICT_DATA_ROOT", raising=False)
    return tmp_path / "work"


def _page() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=180).run()
    at.switch_page("pages/train.py").run()
    assert not at.exception
    return at


def test_a_small_phantom_model_trains_compares_and_is_used(work: Path) -> None:
    at = _page()
    at.number_input(key="train.n").set_value(60).run()
    assert any("Small cohort" in w.value for w in at.warning)  # 9 validation cases
    at.number_input(key="train.epochs").set_value(2).run()
    at.button(key="train.start").click().run()
    assert not at.exception
    jobs = list_jobs(work / "jobs", "train")
    assert len(jobs) == 1 and jobs[0].title == "phantom-60-seed11"
    deadline = time.monotonic() + 400
    while list_jobs(work / "jobs")[0].running and time.monotonic() < deadline:
        time.sleep(1.0)
    job = list_jobs(work / "jobs")[0]
    assert job.status == "done", job.log_tail()
    assert len(job.progress["history"]) == 2
    at = _page()  # a reload: the job is found on the server
    assert not at.exception
    table = at.dataframe[-1].value
    assert [m.split(":")[0] for m in table["model"]] == ["new", "reference"]
    download = at.get("download_button")[0]
    assert download.label == "Download weights and card (zip)"
    at.button(key=f"train.use.{job.id}").click().run()
    assert not at.exception
    at.switch_page("pages/model.py").run()
    assert not at.exception
    assert at.selectbox(key="model.choice").value.name == "phantom-60-seed11"
    at.switch_page("pages/predict.py").run()
    assert not at.exception  # the new model has its guard: Predict works with it
    assert any("n=60, seed=11" in e.value for e in at.error)  # the page names who answers


def test_a_cohort_too_small_is_refused_before_anything_starts(work: Path) -> None:
    at = _page()
    at.number_input(key="train.n").set_value(60).run()
    at.number_input(key="train.seed").set_value(3).run()
    at.text_input(key="train.name").set_value("../x").run()
    at.button(key="train.start").click().run()
    assert any("name '../x' must be" in e.value for e in at.error)
    assert list_jobs(work / "jobs") == []
