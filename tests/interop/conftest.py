"""Answers of bundled examples to export, dciodvfy (Debian's dicom3tools) to validate what is
made, and a real Orthanc server with its DICOMweb plugin (Debian's orthanc and
orthanc-dicomweb), started and stopped by the tests on 127.0.0.1."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import EXAMPLES, ROOT

ORTHANC_PLUGIN = Path("/usr/share/orthanc/plugins/libOrthancDicomWeb.so")


@pytest.fixture(scope="session")
def mri_answer():
    """PH00001 with its DCE-MRI, predicted and explained by the bundled model."""
    from mmcrnet.answer import answer_case

    return answer_case(ROOT / "models", EXAMPLES, "PH00001", image="mri")


@pytest.fixture(scope="session")
def mammogram_answer():
    from mmcrnet.answer import answer_case

    return answer_case(ROOT / "models", EXAMPLES, "PH00001", image="mammogram")


def dciodvfy(path: Path) -> tuple[list[str], list[str]]:
    """dciodvfy's errors and warnings for one file (the IOD's name line left out)."""
    tool = shutil.which("dciodvfy")
    if tool is None:
        pytest.skip("dciodvfy is not installed (apt-get install dicom3tools)")
    run = subprocess.run([tool, str(path)], capture_output=True, text=True, timeout=60)
    lines = [line for line in (run.stdout + run.stderr).splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith(("Error", "Abort"))]
    warnings = [line for line in lines if line.startswith("Warning")]
    return errors, warnings


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def orthanc_url() -> Iterator[str]:
    """A fresh Orthanc on 127.0.0.1 with DICOMweb at ``/dicom-web``; its REST API is the same
    URL without that path."""
    binary = shutil.which("Orthanc") or "/usr/sbin/Orthanc"
    if not Path(binary).is_file() or not ORTHANC_PLUGIN.is_file():
        pytest.skip("Orthanc is not installed (apt-get install orthanc orthanc-dicomweb)")
    root = Path(tempfile.mkdtemp(prefix="oncopredict-orthanc-"))
    port = _free_port()
    config = {
        "Name": "oncopredict-test",
        "StorageDirectory": str(root / "db"),
        "IndexDirectory": str(root / "db"),
        "HttpPort": port,
        "RemoteAccessAllowed": False,
        "AuthenticationEnabled": False,
        "DicomServerEnabled": False,
        "Plugins": [str(ORTHANC_PLUGIN)],
        "DicomWeb": {"Enable": True, "Root": "/dicom-web/"},
    }
    (root / "orthanc.json").write_text(json.dumps(config))
    log = (root / "log.txt").open("w")
    server = subprocess.Popen([binary, str(root / "orthanc.json")], stdout=log, stderr=log)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"{base}/system", timeout=1):
                    break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(
                        "Orthanc did not start: " + (root / "log.txt").read_text()[-2000:]
                    ) from None
                time.sleep(0.1)
        yield base
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()
        shutil.rmtree(root, ignore_errors=True)
