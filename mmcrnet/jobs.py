"""Background jobs: long work (batch prediction, training) runs in a separate process with its
state on disk, so it survives a browser reload, never blocks another session and can be
cancelled or resumed.

    JOBS/<id>/job.json       what was asked (kind, title, command, outputs) and the status
    JOBS/<id>/progress.json  what the work reports as it goes (written atomically)
    JOBS/<id>/log.txt        its output

``python -m mmcrnet.jobs FOLDER`` is the supervisor: it runs ``python -m mmcrnet ARGS
--progress-file FOLDER/progress.json``, waits and records the exit status; SIGTERM to its process
group cancels (the work stops, the status says so).
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mmcrnet.errors import InvalidArgument
from mmcrnet.jsonsafe import dumps

JOB, PROGRESS, LOG = "job.json", "progress.json", "log.txt"
STATUSES = ("running", "done", "failed", "cancelled", "lost")


def write_json_atomic(path: Path, data: object) -> None:
    """Write strict JSON so that a reader never sees half a file."""
    partial = path.with_name(path.name + f".{os.getpid()}.tmp")
    partial.write_text(dumps(data, indent=1))
    os.replace(partial, path)


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return {}
    return data if isinstance(data, dict) else {}


@dataclass(frozen=True)
class Job:
    """One job as its folder says now.

    Attributes:
        status: running, done, failed (exit status not 0), cancelled, or lost (the supervisor
            is gone without recording an end: the server restarted).
        progress: what the work last reported (e.g. ``{"done": 40, "total": 100}``).
        outputs: what it writes, by name (e.g. ``{"out": "/.../predictions.csv"}``).
    """

    id: str
    folder: Path
    kind: str
    title: str
    args: tuple[str, ...]
    status: str
    started: float
    finished: float | None = None
    returncode: int | None = None
    progress: dict[str, Any] = field(default_factory=dict)
    outputs: dict[str, str] = field(default_factory=dict)
    options: dict[str, Any] = field(default_factory=dict)

    @property
    def running(self) -> bool:
        return self.status == "running"

    def log_tail(self, lines: int = 20) -> str:
        try:
            text = (self.folder / LOG).read_text(errors="replace")
        except OSError:
            return ""
        # progress bars rewrite their line with \r: keep each line's last state
        shown = [line.rsplit("\r", 1)[-1] for line in text.replace("\r\n", "\n").split("\n")]
        return "\n".join([line for line in shown if line.strip()][-lines:])[-4000:]

    def end_line(self, subject: str) -> str:
        """How a job that did not finish well ended, in one line: "Training was cancelled.",
        "The batch prediction failed: <its error line>"."""
        said = {"failed": "failed", "cancelled": "was cancelled", "lost": "was interrupted"}
        line = self.error_line()
        return f"{subject} {said.get(self.status, self.status)}" + (f": {line}" if line else ".")

    def error_line(self) -> str | None:
        """The last line of a failed job's output (its one-line error), None otherwise."""
        if self.status != "failed":
            return None
        tail = self.log_tail(5).strip().splitlines()
        return tail[-1] if tail else f"exit status {self.returncode}"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # a zombie (ended, not yet reaped by its parent) is not alive
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1][0] != "Z"
    except (OSError, IndexError):
        return True


def read_job(folder: Path) -> Job:
    """The job in ``folder``.

    Raises:
        InvalidArgument: ``folder`` holds no job.
    """
    record = _read_json(folder / JOB)
    if not record:
        raise InvalidArgument(f"{folder.name} is not a job folder")
    status = str(record.get("status", "running"))
    if status == "running" and not _pid_alive(int(record.get("pid", 0))):
        # the supervisor may have just finished: read once more before calling it lost
        record = _read_json(folder / JOB) or record
        status = str(record.get("status", "running"))
        if status == "running":
            status = "lost"
    return Job(
        id=folder.name,
        folder=folder,
        kind=str(record.get("kind")),
        title=str(record.get("title")),
        args=tuple(record.get("args", ())),
        status=status,
        started=float(record.get("started", 0.0)),
        finished=record.get("finished"),
        returncode=record.get("returncode"),
        progress=_read_json(folder / PROGRESS),
        outputs=dict(record.get("outputs", {})),
        options=dict(record.get("options", {})),
    )


def list_jobs(root: Path, kind: str | None = None) -> list[Job]:
    """Every job under ``root`` (of ``kind`` when given), newest first."""
    if not root.is_dir():
        return []
    jobs = []
    for folder in root.iterdir():
        if (folder / JOB).is_file():
            job = read_job(folder)
            if kind is None or job.kind == kind:
                jobs.append(job)
    return sorted(jobs, key=lambda j: j.started, reverse=True)


def start_job(
    root: Path,
    kind: str,
    title: str,
    args: list[str],
    outputs: dict[str, str] | None = None,
    options: dict[str, Any] | None = None,
    job_id: str | None = None,
) -> Job:
    """Start ``python -m mmcrnet ARGS --progress-file ...`` under a supervisor, in its own
    process group, and return at once.

    Args:
        kind: what it is ("predict", "train"), for listing; title: what the page shows.
        outputs: files or folders it writes, by name; options: what the page needs to show
            the result (e.g. the cohort it ran on).
        job_id: a given id (to resume a job in its own folder), else a new one.
    """
    job_id = job_id or time.strftime("%Y%m%d-%H%M%S-") + secrets.token_hex(3)
    folder = root / job_id
    folder.mkdir(parents=True, exist_ok=True)
    (folder / PROGRESS).unlink(missing_ok=True)
    record = {
        "kind": kind,
        "title": title,
        "args": list(args),
        "status": "running",
        "started": time.time(),
        "outputs": outputs or {},
        "options": options or {},
        "pid": 0,
    }
    write_json_atomic(folder / JOB, record)
    with (folder / LOG).open("ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "mmcrnet.jobs", str(folder)],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # its own process group: cancel reaches the work too
            cwd=Path(__file__).resolve().parent.parent,
        )
    # the supervisor may already be writing its own record: only fill in the pid
    current = _read_json(folder / JOB)
    if current.get("status", "running") == "running":
        write_json_atomic(folder / JOB, {**current, "pid": process.pid})
    return read_job(folder)


def cancel_job(job: Job) -> None:
    """Stop a running job (its supervisor and the work); the supervisor records "cancelled"."""
    pid = int(_read_json(job.folder / JOB).get("pid", 0))
    if job.running and pid:
        try:
            os.killpg(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass


def supervise(folder: Path) -> int:
    """Run the job recorded in ``folder`` and record how it ended (the supervisor's body)."""
    record = _read_json(folder / JOB)
    command = [
        sys.executable,
        "-m",
        "mmcrnet",
        *record["args"],
        "--progress-file",
        str(folder / PROGRESS),
    ]
    record = {**record, "pid": os.getpid()}
    write_json_atomic(folder / JOB, record)
    child = subprocess.Popen(command)
    cancelled = False

    def stop(_signum: int, _frame: object) -> None:
        nonlocal cancelled
        cancelled = True
        child.terminate()

    signal.signal(signal.SIGTERM, stop)
    returncode = child.wait()
    status = "cancelled" if cancelled else ("done" if returncode == 0 else "failed")
    write_json_atomic(
        folder / JOB,
        {**record, "status": status, "returncode": returncode, "finished": time.time()},
    )
    return 0


class ProgressFile:
    """What a CLI command reports to its job: merged into ``path`` atomically, at most every
    ``interval`` seconds unless forced (each epoch, the end)."""

    def __init__(self, path: Path | None, interval: float = 0.5) -> None:
        self.path = path
        self.interval = interval
        self.state: dict[str, Any] = {}
        self._last = 0.0

    def update(self, force: bool = False, **values: object) -> None:
        self.state.update(values)
        if self.path is None:
            return
        now = time.monotonic()
        if force or now - self._last >= self.interval:
            write_json_atomic(self.path, self.state)
            self._last = now


if __name__ == "__main__":
    sys.exit(supervise(Path(sys.argv[1])))
