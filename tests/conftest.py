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


TINY_MODEL = {"cnn_channels": (4, 8), "lstm_hidden": 16, "fusion_hidden": 32, "dropout": 0.1}


@pytest.fixture(scope="session")
def phantom_cases(tmp_path_factory: pytest.TempPathFactory):
    """300 phantom cases through the real image pipeline (rendered once per session)."""
    from mmcrnet.datasets import phantom_case_set

    return phantom_case_set(300, 5, cache=tmp_path_factory.mktemp("cache"), workers=2)


@pytest.fixture(scope="session")
def tiny_model_dir(phantom_cases, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny MM-CRNet trained for 8 epochs on ``phantom_cases`` (a few seconds)."""
    from mmcrnet.train import TrainConfig, train_model

    out = tmp_path_factory.mktemp("tiny-model")
    train_model(
        phantom_cases,
        out,
        TrainConfig(seed=1, epochs=8, patience=8, threads=2, model_overrides=TINY_MODEL),
        device="cpu",
    )
    return out


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    """Mark a test whose body failed (``item.failed``), so fixtures can keep evidence (the
    browser tests keep a screenshot)."""
    report = yield
    if report.when == "call" and report.failed:
        item.failed = True  # type: ignore[attr-defined]
    return report
