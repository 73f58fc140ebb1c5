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
def phantom_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The image cache of ``phantom_cases`` (``--phantom 300 --seed 5 --cache`` it to reuse)."""
    return tmp_path_factory.mktemp("cache")


@pytest.fixture(scope="session")
def phantom_cases(phantom_cache: Path):
    """300 phantom cases through the real image pipeline (rendered once per session)."""
    from mmcrnet.datasets import phantom_case_set

    return phantom_case_set(300, 5, cache=phantom_cache, workers=2)


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


PATIENTS = ["PH00019", "PH00000", "PH00004"]
PHASES = ("ax dyn pre", "ax dyn 1st pass", "ax dyn 2nd pass")


def _series(source: Path, target: Path, description: str, date: str | None = None) -> None:
    import pydicom

    target.mkdir(parents=True)
    ds = pydicom.dcmread(source)
    ds.SeriesDescription = description
    if date:
        ds.StudyDate = date
        ds.StudyInstanceUID = pydicom.uid.generate_uid()
    ds.save_as(target / "1-1.dcm")


@pytest.fixture(scope="session")
def collection(examples_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A public-collection layout written from three bundled examples: a patient / study /
    series DICOM tree (a later study, a mammogram, a stray text file), clinical.csv and
    clinical.xlsx with their own column names and codes, and mapping.json."""
    import json

    import pandas as pd

    root = tmp_path_factory.mktemp("collection")
    tree = root / "Breast-Phantom"
    for patient in PATIENTS:
        images = examples_dir / "images" / patient
        study = tree / f"{patient}-P" / "01-01-2026-NA-MRI BREAST BILATERAL-12345"
        for number, name in enumerate(PHASES, start=1):
            _series(
                images / "mri" / f"phase{number}.dcm", study / f"{number}.000000-{name}-6789", name
            )
        later = tree / f"{patient}-P" / "03-01-2026-NA-MRI BREAST-99999"
        _series(
            images / "mri" / "phase1.dcm", later / "1.000000-ax dyn pre-1", "ax dyn pre", "20260301"
        )
        mammo = tree / f"{patient}-P" / "01-01-2026-NA-MAMMO-55555"
        _series(images / "mammogram.dcm", mammo / "1.000000-R CC-1", "R CC mammo")
    (tree / f"{PATIENTS[0]}-P" / "LICENSE.txt").write_text("not an image")
    cases = pd.read_csv(examples_dir / "cases.csv", dtype=str, keep_default_na=False)
    points = pd.read_csv(examples_dir / "timepoints.csv", dtype=str, keep_default_na=False)
    outcomes = pd.read_csv(examples_dir / "outcomes.csv", dtype=str, keep_default_na=False)
    table = cases[cases["case_id"].isin(PATIENTS)].copy()
    table["Patient ID"] = table["case_id"] + "-P"
    table["HER2 (IHC/ISH)"] = table["her2_status"].map({"positive": "1", "negative": "0"})
    for tp in ("T0", "T1"):
        sizes = points[points["time_point"] == tp].set_index("case_id")["tumor_diameter_cm"]
        table[f"LD {tp} (cm)"] = table["case_id"].map(sizes)
    table["pCR (1=yes)"] = table["case_id"].map(
        outcomes.set_index("case_id")["response"].map(
            {"pCR": "yes", "partial": "part", "none": "no"}
        )
    )
    table = table.drop(columns=["case_id", "her2_status"])
    table.to_csv(root / "clinical.csv", index=False)
    table.to_excel(root / "clinical.xlsx", index=False)
    columns = {c: c for c in cases.columns if c not in ("case_id", "her2_status")}
    mapping = {
        "patient_column": "Patient ID",
        "outcome": {
            "column": "pCR (1=yes)",
            "values": {"yes": "pCR", "part": "partial", "no": "none"},
        },
        "columns": {**columns, "her2_status": "HER2 (IHC/ISH)"},
        "values": {"her2_status": {"1": "positive", "0": "negative"}},
        "time_points": {
            "T0": {"tumor_diameter_cm": "LD T0 (cm)"},
            "T1": {"tumor_diameter_cm": "LD T1 (cm)"},
        },
        "images": {"mri": "(?i)dyn", "mammogram": "(?i)mammo"},
    }
    (root / "mapping.json").write_text(json.dumps(mapping))
    return root


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    """Mark a test whose body failed (``item.failed``), so fixtures can keep evidence (the
    browser tests keep a screenshot)."""
    report = yield
    if report.when == "call" and report.failed:
        item.failed = True  # type: ignore[attr-defined]
    return report
