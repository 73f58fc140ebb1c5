"""Import from the layout public collections come in: a patient / study / series DICOM tree
(as the TCIA downloader writes it), a clinical table (CSV or XLSX) and a column mapping. The
tree is written here from the bundled examples, renamed the way real collections name things."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest

from mmcrnet.__main__ import main
from mmcrnet.batch_predict import predict_cohort
from mmcrnet.cohort_import import import_cohort, mapping_template, read_mapping
from mmcrnet.errors import CohortProblem, InvalidCohort
from tests.conftest import PATIENTS

MODELS = Path(__file__).resolve().parent.parent / "models"


@pytest.mark.parametrize("table", ["clinical.csv", "clinical.xlsx"])
def test_a_collection_imports_into_a_cohort_the_model_reads(
    collection: Path, tmp_path: Path, table: str
) -> None:
    result = import_cohort(
        collection / "Breast-Phantom",
        collection / table,
        collection / "mapping.json",
        tmp_path / "c",
    )
    cohort = result.cohort
    assert cohort.case_ids == [f"{p}-P" for p in PATIENTS]
    assert list(cohort.outcomes["response"]) == ["pCR", "partial", "none"]
    assert set(cohort.cases["her2_status"]) <= {"positive", "negative"}
    assert len(list((tmp_path / "c" / "images" / "PH00019-P" / "mri").iterdir())) == 3
    assert (tmp_path / "c" / "images" / "PH00019-P" / "mammogram.dcm").is_file()
    said = " ".join(result.left_out)
    assert "later mri study left out" in said and "LICENSE.txt: not a DICOM file" in said
    batch = predict_cohort(MODELS, tmp_path / "c", device="cpu")
    assert [r.image for r in batch.rows] == ["mri"] * 3
    assert all(r.probabilities is not None for r in batch.rows)


def test_problems_name_the_clinical_table_row_and_column(collection: Path, tmp_path: Path) -> None:
    table = pd.read_csv(collection / "clinical.csv", dtype=str, keep_default_na=False)
    table.loc[1, "grade"] = "7"
    table.loc[2, "pCR (1=yes)"] = "maybe"
    problems = [str(p) for p in _refused(collection, table, tmp_path)]
    assert any("bad.csv line 4" in p and "pCR (1=yes)" in p and "maybe" in p for p in problems)
    assert not (tmp_path / "c").exists()
    table.loc[2, "pCR (1=yes)"] = "no"
    (problem,) = _refused(collection, table, tmp_path)
    assert (problem.file, problem.row, problem.column) == ("bad.csv", 3, "grade")
    assert not (tmp_path / "c").exists() and not (tmp_path / "c.partial").exists()


def _refused(collection: Path, table: pd.DataFrame, tmp_path: Path) -> list[CohortProblem]:
    """The problems of importing the collection with ``table`` as bad.csv (it must fail)."""
    table.to_csv(tmp_path / "bad.csv", index=False)
    with pytest.raises(InvalidCohort) as info:
        import_cohort(
            collection / "Breast-Phantom",
            tmp_path / "bad.csv",
            collection / "mapping.json",
            tmp_path / "c",
        )
    return info.value.problems


def test_a_bad_mapping_lists_every_problem(tmp_path: Path) -> None:
    path = tmp_path / "m.json"
    path.write_text(
        json.dumps(
            {
                "columns": {"tumor_diameter_cm": "x", "colour": "y"},
                "outcome": {"column": "o", "values": {"1": "complete"}},
                "time_points": {"T9": {}},
                "images": {"mri": "("},
            }
        )
    )
    with pytest.raises(InvalidCohort) as info:
        read_mapping(path)
    text = " | ".join(str(p) for p in info.value.problems)
    for expected in (
        "must name the patient-ID column",
        "'1' maps to 'complete'",
        "'tumor_diameter_cm' is not a baseline feature of the schema (a dynamic feature",
        "'colour' is not a baseline feature",
        "'T9' is not one of T0, T1, T2, T3",
        "is not a regular expression",
    ):
        assert expected in text
    read_mapping_template = tmp_path / "t.json"
    read_mapping_template.write_text(json.dumps(mapping_template()))
    assert read_mapping(read_mapping_template).patient_column == "case_id"


def test_cli_imports_and_lists_problems(
    collection: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["cohort", "import", "--dicom", str(collection / "Breast-Phantom")]
    args += [
        "--clinical",
        str(collection / "clinical.csv"),
        "--mapping",
        str(collection / "mapping.json"),
    ]
    assert main([*args, "--out", str(tmp_path / "c")]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["cases"] == 3 and summary["with_mri"] == 3 and summary["with_mammogram"] == 3
    assert main([*args, "--out", str(tmp_path / "c")]) == 2
    assert "exists already" in capsys.readouterr().err
    assert main(["cohort", "import", "--template"]) == 0
    assert "patient_column" in json.loads(capsys.readouterr().out)
    assert main(["cohort", "import", "--out", str(tmp_path / "d")]) == 2
    shutil.rmtree(tmp_path / "c")
