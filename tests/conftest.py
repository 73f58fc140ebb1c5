"""Shared fixtures: the bundled examples and small phantom cohorts written once per session."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "assets" / "examples"


@pytest.fixture(scope="session")
def examples_dir() -> Path:
    assert (EXAMPLES / "cases.csv").is_file(), "assets/examples is missing"
    return EXAMPLES


@pytest.fixture(scope="session")
def small_cohort_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 4-case phantom cohort with images (seed 11)."""
    from mmcrnet.phantom.writer import write_cohort

    out = tmp_path_factory.mktemp("cohort")
    write_cohort(out, 4, 11, images=True, workers=1)
    return out
