"""Background jobs: a separate process with its state on disk, that reports progress, ends
with its status recorded, can be cancelled, and is found again after a reload (a new reader)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from mmcrnet.errors import InvalidArgument
from mmcrnet.jobs import (
    JOB,
    Job,
    ProgressFile,
    cancel_job,
    list_jobs,
    read_job,
    start_job,
    write_json_atomic,
)


def _wait(folder: Path, until: str = "ended", timeout: float = 240.0) -> Job:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = read_job(folder)
        if until == "ended" and not job.running:
            return job
        if until == "progress" and job.progress.get("epoch"):
            return job
        time.sleep(0.3)
    raise AssertionError(f"job {folder.name} still {read_job(folder).status}: {job.log_tail()}")


def test_a_predict_job_reports_progress_and_records_its_end(
    examples_dir: Path, tmp_path: Path
) -> None:
    out = tmp_path / "predictions.csv"
    job = start_job(
        tmp_path / "jobs",
        "predict",
        "examples",
        ["predict", "--cohort", str(examples_dir), "--out", str(out), "--device", "cpu"],
        outputs={"out": str(out)},
    )
    assert job.running and job.kind == "predict"
    ended = _wait(job.folder)
    assert ended.status == "done" and ended.returncode == 0, ended.log_tail()
    assert ended.progress["done"] == ended.progress["total"] == 12
    assert ended.progress["summary"]["predicted"] == 11
    assert out.read_text().startswith("case_id,status")
    # a reload is a new reader of the same folder: the job is found again, as it ended
    assert [j.id for j in list_jobs(tmp_path / "jobs", kind="predict")] == [job.id]
    assert list_jobs(tmp_path / "jobs", kind="train") == []


def test_a_failing_job_keeps_its_one_line_error(tmp_path: Path) -> None:
    job = start_job(
        tmp_path / "jobs",
        "predict",
        "not a cohort",
        ["predict", "--cohort", str(tmp_path), "--out", str(tmp_path / "x.csv")],
    )
    ended = _wait(job.folder)
    assert ended.status == "failed" and ended.returncode == 2
    assert "cases.csv" in str(ended.error_line())
    assert ended.end_line("The batch prediction").startswith("The batch prediction failed: ")


def test_a_training_job_streams_its_curves_and_can_be_cancelled(tmp_path: Path) -> None:
    job = start_job(
        tmp_path / "jobs",
        "train",
        "tiny",
        [
            "train",
            "--phantom",
            "60",
            "--seed",
            "4",
            "--epochs",
            "500",
            "--patience",
            "500",
            "--out",
            str(tmp_path / "model"),
            "--cache",
            str(tmp_path / "cache"),
            "--workers",
            "1",
            "--threads",
            "1",
        ],
    )
    running = _wait(job.folder, until="progress")
    assert running.status == "running"
    assert (
        running.progress["history"][0]["epoch"] == 1 and "val_auc" in running.progress["history"][0]
    )
    cancel_job(running)
    ended = _wait(job.folder)
    assert ended.status == "cancelled"
    assert ended.end_line("Training") == "Training was cancelled."
    assert not (tmp_path / "model" / "model.json").exists()  # stopped before the end
    assert (tmp_path / "model" / "checkpoint").is_dir()  # ... and resumable


def test_a_job_whose_process_is_gone_is_lost_not_running(tmp_path: Path) -> None:
    folder = tmp_path / "jobs" / "old"
    folder.mkdir(parents=True)
    write_json_atomic(
        folder / JOB,
        {
            "kind": "train",
            "title": "t",
            "args": [],
            "status": "running",
            "started": 1.0,
            "pid": 2**22 + 12345,
        },
    )
    assert read_job(folder).status == "lost"
    with pytest.raises(InvalidArgument, match="is not a job folder"):
        read_job(tmp_path)


def test_progress_file_is_throttled_but_forced_updates_land(tmp_path: Path) -> None:
    path = tmp_path / "progress.json"
    report = ProgressFile(path, interval=3600)
    report.update(done=1)  # the first write always lands
    report.update(done=2)  # throttled
    assert json.loads(path.read_text()) == {"done": 1}
    report.update(force=True, done=3, nan=float("nan"))
    assert json.loads(path.read_text()) == {"done": 3, "nan": None}
    ProgressFile(None).update(done=1)  # no file: nothing to do
