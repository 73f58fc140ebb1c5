"""Answers of bundled examples to export, dciodvfy (Debian's dicom3tools) to validate what is
made, and a real Orthanc server with its DICOMweb plugin (Debian's orthanc and
orthanc-dicomweb), started and stopped by the tests on 127.0.0.1."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import EXAMPLES, ROOT
from tests.orthanc_support import orthanc_installed, running_orthanc


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


@pytest.fixture(scope="session")
def orthanc_url() -> Iterator[str]:
    """A fresh Orthanc on 127.0.0.1 with DICOMweb at ``/dicom-web``; its REST API is the same
    URL without that path."""
    if not orthanc_installed():
        pytest.skip("Orthanc is not installed (apt-get install orthanc orthanc-dicomweb)")
    with running_orthanc() as base:
        yield base
