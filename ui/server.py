"""Start the app as it is served (``python -m ui.serve``: security headers, bound to localhost by
``.streamlit/config.toml``) on a free port and wait until it answers (browser tests, the app
benchmark and the load test share this)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.client import HTTPConnection
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
#: Headless flags for Debian's chromium on a machine with a closed network.
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@dataclass(frozen=True)
class RunningApp:
    url: str
    started_s: float  # seconds from launch until /_stcore/health answered
    pid: int  # the server's process (the app runs in it)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _healthy(port: int) -> bool:
    connection = HTTPConnection("127.0.0.1", port, timeout=1)
    try:
        connection.request("GET", "/_stcore/health")
        return connection.getresponse().read() == b"ok"
    except OSError:
        return False
    finally:
        connection.close()


@contextmanager
def running_app(timeout_s: float = 120.0) -> Iterator[RunningApp]:
    """``python -m ui.serve`` on a free port, at the address the config gives (localhost);
    stopped on exit.

    Raises:
        RuntimeError: the server exited or did not answer within ``timeout_s`` (its log is in
            the message).
    """
    port = free_port()
    log = open(ROOT / ".streamlit-test.log", "w+b")
    command = [
        sys.executable,
        "-m",
        "ui.serve",
        "--server.port",
        str(port),
        "--server.headless",
        "true",
    ]
    started = time.perf_counter()
    process = subprocess.Popen(
        command,
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    url = f"http://127.0.0.1:{port}"
    try:
        while True:
            if process.poll() is not None or time.perf_counter() - started > timeout_s:
                log.seek(0)
                raise RuntimeError(f"the app did not start: {log.read().decode()[-2000:]}")
            if _healthy(port):
                break
            time.sleep(0.2)
        yield RunningApp(url, time.perf_counter() - started, process.pid)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()
