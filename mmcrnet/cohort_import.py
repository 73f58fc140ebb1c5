"""Import a cohort from the layout public collections come in: a DICOM tree organised by
patient / study / series (as the TCIA downloader writes it), a clinical table (CSV or XLSX,
one row per patient) and a column-mapping file saying which column is which schema feature and
which is the outcome. The result is a cohort folder in the OncoPredict format, checked by
:func:`mmcrnet.cohort.load_cohort`; every problem names its file, row and column.

Mapping file (JSON)::

    {
      "patient_column": "Patient ID",
      "outcome": {"column": "pCR", "values": {"1": "pCR", "0": "none"}},
      "columns": {"age": "Age", "er_percent": "ER (%)", "her2_status": "HER2"},
      "values": {"her2_status": {"1": "positive", "0": "negative"}},
      "time_points": {"T0": {"tumor_diameter_cm": "LD baseline"},
                      "T1": {"tumor_diameter_cm": "LD week 3"}},
      "images": {"mri": "(?i)dyn|dce", "mammogram": "(?i)mammo"}
    }

``images`` holds a regular expression per image kind, matched against each series'
SeriesDescription. For each patient the earliest study (StudyDate, then StudyTime) with a
matching series is taken (the baseline); all its matching MRI series go to ``images/<id>/mri/``
(DCE phases often come as one series each; the reader orders them by their acquisition
times), the first matching mammogram series to ``images/<id>/``.
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import pydicom
from pydicom.errors import InvalidDicomError

from mmcrnet.cohort import Cohort, load_cohort
from mmcrnet.errors import CohortProblem, InvalidCohort
from mmcrnet.features import DYNAMIC_FEATURES, OUTCOMES, STATIC_FEATURES, TIME_POINTS

STATIC_NAMES = {f.name for f in STATIC_FEATURES}
DYNAMIC_NAMES = {f.name for f in DYNAMIC_FEATURES} | {"week"}
IMAGE_KINDS = ("mri", "mammogram")


@dataclass(frozen=True)
class Mapping:
    """A parsed mapping file (see the module docstring)."""

    patient_column: str
    outcome_column: str | None
    outcome_values: dict[str, str]
    columns: dict[str, str]
    values: dict[str, dict[str, str]]
    time_points: dict[str, dict[str, str]]
    images: dict[str, re.Pattern[str]] = field(default_factory=dict)


def _problem(
    file: str, message: str, row: int | None = None, column: str | None = None
) -> CohortProblem:
    return CohortProblem(file, row, column, message)


def read_mapping(path: Path) -> Mapping:
    """Parse and check a mapping file against the schema.

    Raises:
        InvalidCohort: every problem, each naming the mapping file and the key.
    """
    name = path.name
    try:
        data = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidCohort([_problem(name, f"is not readable JSON ({exc})")]) from None
    problems: list[CohortProblem] = []
    if not isinstance(data, dict):
        raise InvalidCohort([_problem(name, "is not a JSON object")])
    known = {"patient_column", "outcome", "columns", "values", "time_points", "images"}
    for key in sorted(set(data) - known):
        problems.append(
            _problem(name, f"unknown key (expected {', '.join(sorted(known))})", None, key)
        )
    patient = data.get("patient_column")
    if not isinstance(patient, str) or not patient:
        problems.append(_problem(name, "must name the patient-ID column", None, "patient_column"))
    outcome = data.get("outcome") or {}
    values_of_outcome = {str(k): str(v) for k, v in (outcome.get("values") or {}).items()}
    for raw, mapped in values_of_outcome.items():
        if mapped not in OUTCOMES:
            problems.append(
                _problem(
                    name,
                    f"'{raw}' maps to '{mapped}', not one of {', '.join(OUTCOMES)}",
                    None,
                    "outcome",
                )
            )
    columns = {str(k): str(v) for k, v in (data.get("columns") or {}).items()}
    for feature in columns:
        if feature not in STATIC_NAMES:
            where = (
                " (a dynamic feature: map it under time_points)" if feature in DYNAMIC_NAMES else ""
            )
            problems.append(
                _problem(
                    name,
                    f"'{feature}' is not a baseline feature of the schema{where}",
                    None,
                    "columns",
                )
            )
    time_points = {}
    for tp, mapping in (data.get("time_points") or {}).items():
        if tp not in TIME_POINTS:
            problems.append(
                _problem(
                    name, f"'{tp}' is not one of {', '.join(TIME_POINTS)}", None, "time_points"
                )
            )
            continue
        time_points[tp] = {str(k): str(v) for k, v in mapping.items()}
        for feature in time_points[tp]:
            if feature not in DYNAMIC_NAMES:
                problems.append(
                    _problem(
                        name,
                        f"'{feature}' is not a per-time-point feature (or 'week')",
                        None,
                        f"time_points.{tp}",
                    )
                )
    images = {}
    for kind, pattern in (data.get("images") or {}).items():
        if kind not in IMAGE_KINDS:
            problems.append(_problem(name, f"'{kind}' is not mri or mammogram", None, "images"))
            continue
        try:
            images[kind] = re.compile(str(pattern))
        except re.error as exc:
            problems.append(
                _problem(
                    name, f"'{pattern}' is not a regular expression ({exc})", None, f"images.{kind}"
                )
            )
    values = {
        str(k): {str(a): str(b) for a, b in v.items()}
        for k, v in (data.get("values") or {}).items()
    }
    if problems:
        raise InvalidCohort(problems)
    return Mapping(
        str(patient),
        str(outcome["column"]) if outcome.get("column") else None,
        values_of_outcome,
        columns,
        values,
        time_points,
        images,
    )


def read_clinical_table(path: Path) -> pd.DataFrame:
    """A CSV or XLSX clinical table as strings ('' = empty); line numbers as in the file
    (header on line 1) in ``_line``.

    Raises:
        InvalidCohort: unreadable, or not CSV/XLSX (named).
    """
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".xlsx", ".xlsm"):
        raise InvalidCohort([_problem(path.name, "is not a .csv or .xlsx table")])
    try:
        if suffix == ".csv":
            table = pd.read_csv(path, dtype=str, keep_default_na=False)
        else:
            table = pd.read_excel(path, dtype=str).fillna("")
    except (OSError, ValueError, UnicodeDecodeError, pd.errors.ParserError) as exc:
        raise InvalidCohort([_problem(path.name, f"cannot be read as a table ({exc})")]) from None
    table.columns = [str(c).strip() for c in table.columns]
    table["_line"] = range(2, len(table) + 2)
    return table


def _cell(value: object) -> str:
    text = str(value).strip()
    return text[:-2] if re.fullmatch(r"-?\d+\.0", text) else text  # Excel's 1 -> "1.0"


@dataclass(frozen=True)
class SeriesFound:
    """One series folder of the DICOM tree."""

    folder: Path
    patient: str
    study_key: tuple[str, str, str]  # StudyDate, StudyTime, StudyInstanceUID
    description: str
    files: tuple[Path, ...]


def scan_tree(root: Path) -> tuple[list[SeriesFound], list[str]]:
    """Every folder of DICOM files under ``root``, with its patient (the first folder level
    below ``root``) and its study's date; files that are not DICOM are listed, not read."""
    found, skipped = [], []
    for folder in sorted({p.parent for p in root.rglob("*") if p.is_file()}):
        relative = folder.relative_to(root)
        if not relative.parts:
            continue
        files = sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith("."))
        header = None
        for file in files:
            try:
                header = pydicom.dcmread(file, stop_before_pixels=True)
                break
            except (InvalidDicomError, OSError, ValueError, AttributeError, EOFError):
                skipped.append(f"{file.relative_to(root)}: not a DICOM file")
        if header is None:
            continue
        found.append(
            SeriesFound(
                folder,
                relative.parts[0],
                (
                    str(header.get("StudyDate", "")),
                    str(header.get("StudyTime", "")),
                    str(header.get("StudyInstanceUID", "")),
                ),
                str(header.get("SeriesDescription", "")),
                tuple(files),
            )
        )
    return found, skipped


@dataclass(frozen=True)
class ImportResult:
    """The cohort written, and what was left out and why (one line each)."""

    cohort: Cohort
    left_out: tuple[str, ...]


def import_cohort(
    dicom_root: Path,
    clinical: Path,
    mapping_file: Path,
    out: Path,
    progress: Callable[[int, int], None] | None = None,
) -> ImportResult:
    """Write the cohort folder ``out`` (must not exist) from a DICOM tree, a clinical table and
    a mapping file, and check it.

    Raises:
        InvalidCohort: every problem found (mapping, table, then the written cohort), each
            with file, row and column; ``out`` is removed again.
    """
    if out.exists():
        raise InvalidCohort([_problem(str(out), "exists already: choose a new folder")])
    mapping = read_mapping(mapping_file)
    table = read_clinical_table(clinical)
    name = clinical.name
    problems: list[CohortProblem] = []
    needed = [mapping.patient_column, *mapping.columns.values()]
    needed += [c for tp in mapping.time_points.values() for c in tp.values()]
    if mapping.outcome_column:
        needed.append(mapping.outcome_column)
    for column in dict.fromkeys(needed):
        if column not in table.columns:
            problems.append(
                _problem(
                    name, f"has no column '{column}' (named in {mapping_file.name})", 1, column
                )
            )
    if problems:
        raise InvalidCohort(problems)

    def mapped(feature: str, raw: object) -> str:
        text = _cell(raw)
        return mapping.values.get(feature, {}).get(text, text)

    cases, timepoints, outcomes = [], [], []
    seen: dict[str, int] = {}
    for row in table.to_dict("records"):
        line = int(row["_line"])
        case_id = _cell(row[mapping.patient_column])
        if not case_id:
            problems.append(_problem(name, "has no patient ID", line, mapping.patient_column))
            continue
        if case_id in seen:
            problems.append(
                _problem(
                    name,
                    f"patient '{case_id}' is also on line {seen[case_id]}",
                    line,
                    mapping.patient_column,
                )
            )
            continue
        seen[case_id] = line
        cases.append(
            {"case_id": case_id, **{f: mapped(f, row[c]) for f, c in mapping.columns.items()}}
        )
        for tp, columns in mapping.time_points.items():
            values = {f: mapped(f, row[c]) for f, c in columns.items()}
            if tp == "T0" or any(values.values()):
                timepoints.append({"case_id": case_id, "time_point": tp, **values})
        if mapping.outcome_column:
            raw = _cell(row[mapping.outcome_column])
            outcome = mapping.outcome_values.get(raw, raw)
            if outcome not in OUTCOMES:
                problems.append(
                    _problem(
                        name,
                        f"'{raw}' is not an outcome (map it under outcome.values)",
                        line,
                        mapping.outcome_column,
                    )
                )
            outcomes.append({"case_id": case_id, "response": outcome})
    if not any(t["time_point"] == "T0" for t in timepoints) and cases:
        for case in cases:  # a table without mapped time-point columns: baseline rows only
            timepoints.append({"case_id": case["case_id"], "time_point": "T0"})
    if problems:
        raise InvalidCohort(problems)

    series, left_out = scan_tree(dicom_root)
    partial = out.with_name(out.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    try:
        pd.DataFrame(cases).to_csv(partial / "cases.csv", index=False)
        frame = pd.DataFrame(timepoints)
        frame["_case"] = frame["case_id"].map(list(seen).index)
        frame["_order"] = frame["time_point"].map(TIME_POINTS.index)
        frame = frame.sort_values(["_case", "_order"]).drop(columns=["_case", "_order"])
        frame.to_csv(partial / "timepoints.csv", index=False)
        sorted_points = list(zip(frame["case_id"], frame["time_point"]))
        if outcomes:
            pd.DataFrame(outcomes).to_csv(partial / "outcomes.csv", index=False)
        ids = [c["case_id"] for c in cases]
        patients_in_tree = {s.patient for s in series}
        for extra in sorted(patients_in_tree - set(ids)):
            left_out.append(f"{extra}/: a patient folder with no row in {name}")
        for done, case_id in enumerate(ids, start=1):
            left_out += _copy_images(
                case_id, [s for s in series if s.patient == case_id], mapping, partial
            )
            if progress:
                progress(done, len(ids))
        (partial / "cohort.json").write_text(
            json.dumps(
                {
                    "description": f"imported from {dicom_root.name}/ and {name}",
                    "source": {
                        "dicom": dicom_root.name,
                        "clinical": name,
                        "mapping": mapping_file.name,
                    },
                },
                indent=1,
            )
        )
        try:
            load_cohort(partial, require_outcomes=bool(outcomes))
        except InvalidCohort as exc:  # said where the user can fix it: their table's cells
            raise InvalidCohort(
                [_in_table(p, name, mapping, seen, sorted_points) for p in exc.problems]
            ) from None
        partial.rename(out)
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    return ImportResult(load_cohort(out, require_outcomes=bool(outcomes)), tuple(left_out))


def _in_table(
    problem: CohortProblem,
    table: str,
    mapping: Mapping,
    lines: dict[str, int],
    points: list[tuple[str, str]],
) -> CohortProblem:
    """A problem of the written cohort, moved to the clinical table's line and column."""
    if problem.row is None:
        return problem
    if problem.file == "cases.csv":
        case_id = list(lines)[problem.row - 2]
        column = mapping.columns.get(problem.column or "", problem.column)
        return CohortProblem(table, lines[case_id], column, problem.message)
    if problem.file == "timepoints.csv":
        case_id, tp = points[problem.row - 2]
        column = mapping.time_points.get(tp, {}).get(problem.column or "", problem.column)
        return CohortProblem(table, lines[case_id], column, f"{tp}: {problem.message}")
    if problem.file == "outcomes.csv":
        case_id = list(lines)[problem.row - 2]
        return CohortProblem(table, lines[case_id], mapping.outcome_column, problem.message)
    return problem


def _copy_images(case_id: str, series: list[SeriesFound], mapping: Mapping, out: Path) -> list[str]:
    """Copy the baseline study's matching series of one patient; returns what was left out."""
    left_out = []
    for kind, pattern in mapping.images.items():
        matching = [s for s in series if pattern.search(s.description)]
        if not matching:
            if series:
                left_out.append(
                    f"{case_id}: no series matches the {kind} pattern '{pattern.pattern}'"
                )
            continue
        first = min(s.study_key for s in matching)
        chosen = [s for s in matching if s.study_key == first]
        later = {s.study_key for s in matching} - {first}
        if later:
            left_out.append(
                f"{case_id}: {len(later)} later {kind} stud{'ies' if len(later) > 1 else 'y'} "
                f"left out (the baseline study of {first[0] or 'unknown date'} is used)"
            )
        folder = out / "images" / case_id
        if kind == "mri":
            target = folder / "mri"
            target.mkdir(parents=True, exist_ok=True)
            for s in chosen:
                for number, file in enumerate(s.files):
                    shutil.copyfile(file, target / f"{s.folder.name}-{number:04d}.dcm")
        else:
            folder.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(chosen[0].files[0], folder / "mammogram.dcm")
            if len(chosen) > 1 or len(chosen[0].files) > 1:
                left_out.append(f"{case_id}: more than one mammogram image; the first is used")
    return left_out


def mapping_template() -> dict[str, Any]:
    """A mapping file to start from: every schema feature, mapped to a column of its name."""
    return {
        "patient_column": "case_id",
        "outcome": {"column": "response", "values": {o: o for o in OUTCOMES}},
        "columns": {f.name: f.name for f in STATIC_FEATURES},
        "values": {},
        "time_points": {
            tp: {f.name: f"{f.name}_{tp}" for f in DYNAMIC_FEATURES} for tp in TIME_POINTS
        },
        "images": {"mri": "(?i)dce|dyn|phase", "mammogram": "(?i)mammo|^mg"},
    }
