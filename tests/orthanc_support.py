"""A real Orthanc PACS with its DICOMweb plugin (Debian's orthanc and orthanc-dicomweb), started
on 127.0.0.1 on a free port and stopped afterwards: for the DICOM tests and the exchange
browser script."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ORTHANC_PLUGIN = Path("/usr/share/orthanc/plugins/libOrthancDicomWeb.so")


def _binary() -> str:
    return shutil.which("Orthanc") or "/usr/sbin/Orthanc"


def orthanc_installed() -> bool:
    return Path(_binary()).is_file() and ORTHANC_PLUGIN.is_file()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def running_orthanc() -> Iterator[str]:
    """The base URL of a fresh Orthanc (REST at the root, DICOMweb at ``/dicom-web``)."""
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
    server = subprocess.Popen([_binary(), str(root / "orthanc.json")], stdout=log, stderr=log)
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
