"""The bundled model and examples, loaded once for the teaching tests."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent.parent


@pytest.fixture(scope="session")
def examples():
    from mmcrnet import load_cohort

    return load_cohort(ROOT / "assets" / "examples")


@pytest.fixture(scope="session")
def engine():
    """(explainer, guard) of the bundled model."""
    from mmcrnet import Explainer, Predictor
    from mmcrnet.guard import Guard

    return Explainer(Predictor(ROOT / "models", device="cpu")), Guard.load(ROOT / "models")


@pytest.fixture(scope="session")
def her2_case(examples, engine):
    """PH00001: HER2+, truly partial, predicted pCR by the bundled model."""
    from mmcrnet.teach.case import open_case

    return open_case(*engine, examples, "PH00001")
