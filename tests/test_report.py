"""The result document: round trip, no identifiers or server paths, schema checks."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from mmcrnet import ClinicalCase, Explainer, Predictor, read_paths
from mmcrnet.report import SCHEMA_VERSION, CaseReport, InvalidReport, case_report

from .explain.test_sequence import STATIC, TIMEPOINTS


@pytest.fixture(scope="module")
def report(tiny_model_dir: Path, examples_dir: Path) -> CaseReport:
    study = read_paths([examples_dir / "images" / "PH00019" / "mri"])
    explanation = Explainer(Predictor(tiny_model_dir, device="cpu"), steps=8).explain(
        ClinicalCase(STATIC, TIMEPOINTS), study
    )
    return case_report(
        explanation,
        STATIC,
        TIMEPOINTS,
        study,
        None,
        ["x.dcm: not an image"],
        case_label="teaching case 3",
        app_version="0.1.0",
        now=dt.datetime(2026, 12, 1, tzinfo=dt.UTC),
    )


def test_round_trip(report: CaseReport) -> None:
    again = CaseReport.from_json(report.to_json())
    assert again == report
    assert again.to_json() == report.to_json()


def test_no_identifiers_or_server_paths(report: CaseReport) -> None:
    text = report.to_json()
    image = report.inputs["image"]
    assert image["sources"] == ["file 1", "file 2", "file 3"]
    assert "patient_id" not in image and "study_uid" not in image
    assert "PH00019" not in text and "/assets/" not in text and str(Path.cwd()) not in text


def test_the_document_says_what_it_is(report: CaseReport) -> None:
    data = json.loads(report.to_json())
    assert data["schema_version"] == SCHEMA_VERSION and data["created"] == (
        "2026-12-01T00:00:00+00:00"
    )
    assert data["disclaimer"].startswith("Research use only")
    assert data["model"]["weights_sha256"] == data["explanation"]["prediction"]["weights_sha256"]
    assert data["left_out"] == ["x.dcm: not an image"]
    assert data["explanation"]["image"]["phases"][1]["role"] == "early"


@pytest.mark.parametrize(
    "text, words",
    [
        ("[]", "not a JSON object"),
        ("{", "not JSON"),
        ('{"schema": "other"}', "not an OncoPredict case result"),
        ('{"schema": "oncopredict.case-result", "schema_version": 99}', "newer than this app"),
        ('{"schema": "oncopredict.case-result", "schema_version": 1}', "lacks 'app'"),
    ],
)
def test_bad_documents_are_named(text: str, words: str) -> None:
    with pytest.raises(InvalidReport, match=words):
        CaseReport.from_json(text)


def test_the_version_recorded_is_the_package_version() -> None:
    import tomllib

    from mmcrnet.report import APP_VERSION

    pyproject = Path(__file__).resolve().parent.parent / "pyproject.toml"
    assert tomllib.loads(pyproject.read_text())["project"]["version"] == APP_VERSION
