"""Loading a cohort folder names the file, line and column of every problem."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from mmcrnet.cohort import load_cohort
from mmcrnet.errors import InvalidCohort


@pytest.fixture
def cohort_copy(examples_dir: Path, tmp_path: Path) -> Path:
    for name in ("cases.csv", "timepoints.csv", "outcomes.csv", "cohort.json"):
        shutil.copy(examples_dir / name, tmp_path / name)
    return tmp_path


def edit(path: Path, line: int, column: str, value: str) -> None:
    """Set one cell (line 1 is the header)."""
    rows = [r.split(",") for r in path.read_text().splitlines()]
    rows[line - 1][rows[0].index(column)] = value
    path.write_text("\n".join(",".join(r) for r in rows) + "\n")


def problems_of(folder: Path, **kwargs: bool) -> list[tuple[str, int | None, str | None]]:
    with pytest.raises(InvalidCohort) as info:
        load_cohort(folder, **kwargs)
    assert "\n" not in str(info.value)
    return [(p.file, p.row, p.column) for p in info.value.problems]


def test_bundled_examples_load(examples_dir: Path) -> None:
    cohort = load_cohort(examples_dir)
    assert len(cohort.cases) == 12 and len(cohort.timepoints) == 48
    assert cohort.has_truth and cohort.warnings == ()
    assert cohort.image_folder(cohort.case_ids[0]) is not None


@pytest.mark.parametrize(
    "file, line, column, value, words",
    [
        ("cases.csv", 3, "age", "abc", "not a number"),
        ("cases.csv", 4, "er_percent", "150", "outside the accepted range"),
        ("cases.csv", 2, "her2_status", "equivocal", "not one of"),
        ("cases.csv", 5, "grade", "2.5", "whole number"),
        ("timepoints.csv", 6, "ctdna_percent", "-1", "outside"),
        ("timepoints.csv", 7, "time_point", "T9", "not one of T0, T1, T2, T3"),
        ("timepoints.csv", 8, "week", "99", "outside 0 to 52 weeks"),
        ("outcomes.csv", 2, "response", "complete", "not one of pCR, partial, none"),
    ],
)
def test_bad_cell_is_located(
    cohort_copy: Path, file: str, line: int, column: str, value: str, words: str
) -> None:
    edit(cohort_copy / file, line, column, value)
    with pytest.raises(InvalidCohort) as info:
        load_cohort(cohort_copy)
    problem = info.value.problems[0]
    assert (problem.file, problem.row, problem.column) == (file, line, column)
    assert words in problem.message
    assert f"{file} line {line} column '{column}'" in str(info.value)


def test_every_problem_is_listed(cohort_copy: Path) -> None:
    edit(cohort_copy / "cases.csv", 2, "age", "old")
    edit(cohort_copy / "cases.csv", 3, "bmi", "500")
    edit(cohort_copy / "cases.csv", 4, "case_id", "PH00019")  # duplicate of line 2
    found = problems_of(cohort_copy)
    assert ("cases.csv", 2, "age") in found and ("cases.csv", 3, "bmi") in found
    assert ("cases.csv", 4, "case_id") in found


def test_cross_file_consistency(cohort_copy: Path) -> None:
    edit(cohort_copy / "timepoints.csv", 2, "case_id", "GHOST")  # T0 of the first case
    found = problems_of(cohort_copy)
    assert ("timepoints.csv", 2, "case_id") in found  # unknown case
    assert ("cases.csv", 2, "case_id") in found  # first case lost its baseline


def test_missing_and_unknown_columns(cohort_copy: Path) -> None:
    text = (cohort_copy / "cases.csv").read_text().replace("case_id,", "patient,", 1)
    (cohort_copy / "cases.csv").write_text(text)
    found = problems_of(cohort_copy)
    assert ("cases.csv", 1, "case_id") in found and ("cases.csv", 1, "patient") in found


def test_absent_feature_columns_are_missing_values_with_a_warning(cohort_copy: Path) -> None:
    import pandas as pd

    cases = pd.read_csv(cohort_copy / "cases.csv").drop(columns=["actb_expr", "gapdh_expr"])
    cases.to_csv(cohort_copy / "cases.csv", index=False)
    cohort = load_cohort(cohort_copy)
    assert (cohort.cases["actb_expr"] == "").all()
    assert any("actb_expr" in w for w in cohort.warnings)


def test_outcomes_required_unless_told(cohort_copy: Path) -> None:
    (cohort_copy / "outcomes.csv").unlink()
    assert ("outcomes.csv", None, None) in problems_of(cohort_copy)
    assert load_cohort(cohort_copy, require_outcomes=False).outcomes is None


def test_ragged_and_non_utf8_files(cohort_copy: Path) -> None:
    with open(cohort_copy / "timepoints.csv", "a") as handle:
        handle.write("PH00019,T3\n")
    assert ("timepoints.csv", 50, None) in problems_of(cohort_copy)
    (cohort_copy / "cases.csv").write_bytes(b"case_id,age\n\xff\xfe,1\n")
    assert ("cases.csv", None, None) in problems_of(cohort_copy)


def test_not_a_folder(tmp_path: Path) -> None:
    with pytest.raises(InvalidCohort, match="is not a folder"):
        load_cohort(tmp_path / "nope")


@pytest.mark.parametrize(
    "body, words",
    [
        (b"PH1,5\r0\n", "not valid CSV (new-line character seen in unquoted field)"),
        (b'PH1,"' + b"5" * 140_000 + b'"\n', "not valid CSV (field larger than field limit"),
    ],
)
def test_csv_the_csv_module_refuses_is_a_problem(
    cohort_copy: Path, body: bytes, words: str
) -> None:
    (cohort_copy / "cases.csv").write_bytes(b"case_id,age\n" + body)
    with pytest.raises(InvalidCohort) as info:
        load_cohort(cohort_copy)
    problem = info.value.problems[0]
    assert (problem.file, problem.row) == ("cases.csv", 2)
    assert str(problem).startswith(f"cases.csv line 2: {words}")


def test_long_and_control_character_cells_are_short_problems(cohort_copy: Path) -> None:
    edit(cohort_copy / "cases.csv", 2, "regimen", '"TCHP\rX"')
    edit(cohort_copy / "timepoints.csv", 2, "week", "9" * 5000)
    edit(cohort_copy / "outcomes.csv", 2, "response", "x" * 5000)
    with pytest.raises(InvalidCohort) as info:
        load_cohort(cohort_copy)
    messages = {(p.file, p.column): p.message for p in info.value.problems}
    assert messages[("cases.csv", "regimen")] == "contains a character that is not valid text"
    assert messages[("timepoints.csv", "week")].startswith("'99999999999999999999…' is outside")
    assert messages[("outcomes.csv", "response")] == (
        "'xxxxxxxxxxxxxxxxxxxx…' is not one of pCR, partial, none"
    )


@pytest.mark.parametrize(
    "text",
    ["[" * 100_000 + "]" * 100_000, '{"n": ' + "9" * 5000 + "}", "[1, 2]"],
    ids=["nested", "huge-integer", "not-an-object"],
)
def test_broken_cohort_json_is_a_problem(cohort_copy: Path, text: str) -> None:
    (cohort_copy / "cohort.json").write_text(text)
    assert problems_of(cohort_copy) == [("cohort.json", None, None)]
