"""Load a cohort folder (the OncoPredict cohort format, see the README) and validate it against
the feature schema, naming the file, line and column of every problem."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from mmcrnet.errors import CohortProblem, InvalidCase, InvalidCohort
from mmcrnet.features import (
    DYNAMIC_FEATURES,
    OUTCOMES,
    STATIC_FEATURES,
    TIME_POINTS,
    WEEK_BOUNDS,
    WEEKS,
    echo_value,
)

MAX_PROBLEMS = 200  # stop collecting after this many (a wrong file would list every cell)


@dataclass(frozen=True)
class Cohort:
    """A validated cohort.

    Attributes:
        root: the folder.
        cases: ``case_id`` + every static feature (raw values as strings; '' = missing);
            features absent from cases.csv are all-missing columns.
        timepoints: ``case_id, time_point, week`` + every dynamic feature, sorted by case and
            time point.
        outcomes: ``case_id, response``, or None when the folder has no outcomes.csv.
        metadata: cohort.json, or {} when absent.
        warnings: things worth knowing that are not errors (e.g. absent feature columns).
    """

    root: Path
    cases: pd.DataFrame
    timepoints: pd.DataFrame
    outcomes: pd.DataFrame | None
    metadata: dict[str, object] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()

    @property
    def case_ids(self) -> list[str]:
        return self.cases["case_id"].tolist()

    def image_folder(self, case_id: str) -> Path | None:
        """``images/<case_id>/`` when it exists."""
        folder = self.root / "images" / case_id
        return folder if folder.is_dir() else None

    def image_paths(self, case_id: str, kind: str) -> list[Path]:
        """The files of a case's image: ``[images/<id>/mri]`` for "mri", the
        ``images/<id>/mammogram.*`` files for "mammogram"; empty when absent."""
        folder = self.image_folder(case_id)
        if folder is None:
            return []
        if kind == "mri":
            return [folder / "mri"] if (folder / "mri").is_dir() else []
        if kind == "mammogram":
            return sorted(folder.glob("mammogram.*"))
        raise ValueError(f"image kind '{kind}' is not mri or mammogram")

    def cases_with_image(self, kind: str) -> int:
        """How many cases have an image of ``kind`` ("mri" or "mammogram")."""
        return sum(bool(self.image_paths(case_id, kind)) for case_id in self.case_ids)

    @property
    def has_truth(self) -> bool:
        return (self.root / "truth" / "truth.csv").is_file()


class _Problems:
    """Collects problems up to :data:`MAX_PROBLEMS`."""

    def __init__(self) -> None:
        self.items: list[CohortProblem] = []

    def add(self, file: str, row: int | None, column: str | None, message: str) -> None:
        if len(self.items) < MAX_PROBLEMS:
            self.items.append(CohortProblem(file, row, column, message))

    def __bool__(self) -> bool:
        return bool(self.items)


def _read_csv(
    path: Path, problems: _Problems, required: Iterable[str], allowed: set[str], hint: str
) -> pd.DataFrame | None:
    """A CSV as strings ('' for empty cells), or None (with a problem) when unusable.

    Args:
        required: columns that must be present.
        allowed: every column the file may have; others are reported with ``hint``.
    """
    name = path.name
    if not path.is_file():
        problems.add(name, None, None, "file is missing")
        return None
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        problems.add(name, None, None, f"is not UTF-8 text (byte {exc.start})")
        return None
    reader = csv.reader(io.StringIO(text))
    try:
        rows = list(reader)
    except csv.Error as exc:  # a lone carriage return, a field over the csv module's limit
        reason = str(exc).split(" - ")[0]  # drop the csv module's hint meant for programmers
        problems.add(name, reader.line_num, None, f"not valid CSV ({reason})")
        return None
    if not rows:
        problems.add(name, None, None, "file is empty (no header line)")
        return None
    header = [h.strip() for h in rows[0]]
    for position, column in enumerate(header):
        if column == "":
            problems.add(name, 1, None, f"column {position + 1} has no name")
    duplicated = {h for h in header if header.count(h) > 1 and h}
    for column in sorted(duplicated):
        problems.add(name, 1, column, "column appears more than once")
    for column in required:
        if column not in header:
            problems.add(name, 1, column, "required column is missing")
    for column in header:
        if column and column not in allowed:
            problems.add(name, 1, column, f"unknown column{hint}")
    body = []
    for line, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue  # blank line
        if len(row) != len(header):
            problems.add(name, line, None, f"has {len(row)} fields, the header has {len(header)}")
            continue
        body.append([line] + [cell.strip() for cell in row])
    if problems.items and any(p.file == name and p.row in (1, None) for p in problems.items):
        return None
    frame = pd.DataFrame(body, columns=["_line"] + header, dtype=object)
    return frame


def _check_ids(frame: pd.DataFrame, file: str, problems: _Problems, unique: bool) -> None:
    for line, value in zip(frame["_line"], frame["case_id"]):
        if value == "":
            problems.add(file, line, "case_id", "is empty")
    if unique:
        dup = frame["case_id"].duplicated(keep="first") & (frame["case_id"] != "")
        for line, value in zip(frame["_line"][dup], frame["case_id"][dup]):
            problems.add(file, line, "case_id", f"'{echo_value(value)}' appears more than once")


def _check_values(frame: pd.DataFrame, file: str, specs: Iterable, problems: _Problems) -> None:
    for spec in specs:
        if spec.name not in frame:
            continue
        for line, value in zip(frame["_line"], frame[spec.name]):
            try:
                spec.parse(value)
            except InvalidCase as exc:
                problems.add(file, line, spec.name, str(exc).split(": ", 1)[-1])


def _ids_not_in(
    frame: pd.DataFrame, file: str, reference: set[str], message: str, problems: _Problems
) -> None:
    """Report every non-empty case_id of ``frame`` that is missing from ``reference``."""
    for line, cid in zip(frame["_line"], frame["case_id"]):
        if cid and cid not in reference:
            problems.add(file, line, "case_id", f"'{echo_value(cid)}' {message}")


def _read_metadata(path: Path) -> dict[str, object]:
    """cohort.json as a JSON object.

    Raises:
        InvalidCohort: not UTF-8, not JSON (a syntax error, an integer past Python's digit
            limit), nested too deeply, or not an object.
    """
    try:
        metadata = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        message = f"is not valid JSON ({exc})"
    except ValueError:  # an integer past Python's int-from-text digit limit
        message = "is not valid JSON (a number with too many digits)"
    except RecursionError:
        message = "is not valid JSON (nested too deeply)"
    else:
        if isinstance(metadata, dict):
            return metadata
        message = f"is not a JSON object (found a {type(metadata).__name__})"
    raise InvalidCohort([CohortProblem(path.name, None, None, message)])


def load_cohort(root: str | Path, require_outcomes: bool = True) -> Cohort:
    """Read and validate a cohort folder.

    Args:
        root: folder with cases.csv, timepoints.csv and (for training/evaluation) outcomes.csv.
        require_outcomes: outcomes.csv must exist and cover every case.

    Raises:
        InvalidCohort: every problem found (``.problems``), the first one in the message.
    """
    root = Path(root)
    problems = _Problems()
    if not root.is_dir():
        raise InvalidCohort([CohortProblem(str(root), None, None, "is not a folder")])
    warnings: list[str] = []
    static_names = [f.name for f in STATIC_FEATURES]
    dynamic_names = [f.name for f in DYNAMIC_FEATURES]

    cases = _read_csv(
        root / "cases.csv",
        problems,
        ["case_id"],
        {"case_id", *static_names},
        " (not in the feature schema; dynamic features belong in timepoints.csv)",
    )
    if cases is not None:
        _check_ids(cases, "cases.csv", problems, unique=True)
        absent = [n for n in static_names if n not in cases]
        if absent:
            warnings.append(f"cases.csv has no column for {', '.join(absent)}: treated as missing")
        _check_values(cases, "cases.csv", STATIC_FEATURES, problems)

    timepoints = _read_csv(
        root / "timepoints.csv",
        problems,
        ["case_id", "time_point"],
        {"case_id", "time_point", "week", *dynamic_names},
        " (not a dynamic feature; static features belong in cases.csv)",
    )
    if timepoints is not None:
        _check_ids(timepoints, "timepoints.csv", problems, unique=False)
        absent = [n for n in dynamic_names if n not in timepoints]
        if absent:
            warnings.append(
                f"timepoints.csv has no column for {', '.join(absent)}: treated as missing"
            )
        for line, tp in zip(timepoints["_line"], timepoints["time_point"]):
            if tp not in TIME_POINTS:
                problems.add(
                    "timepoints.csv",
                    line,
                    "time_point",
                    f"'{echo_value(tp)}' is not one of {', '.join(TIME_POINTS)}",
                )
        if "week" in timepoints:
            for line, week in zip(timepoints["_line"], timepoints["week"]):
                try:
                    value = float(week) if week != "" else None
                except ValueError:
                    problems.add(
                        "timepoints.csv", line, "week", f"'{echo_value(week)}' is not a number"
                    )
                    continue
                if value is not None and not WEEK_BOUNDS[0] <= value <= WEEK_BOUNDS[1]:
                    problems.add(
                        "timepoints.csv",
                        line,
                        "week",
                        f"'{echo_value(week)}' is outside "
                        f"{WEEK_BOUNDS[0]:g} to {WEEK_BOUNDS[1]:g} weeks",
                    )
        key = timepoints[["case_id", "time_point"]]
        for line, (cid, tp) in zip(
            timepoints["_line"][key.duplicated()], key[key.duplicated()].itertuples(index=False)
        ):
            problems.add(
                "timepoints.csv",
                line,
                "time_point",
                f"case '{echo_value(cid)}' has {tp} more than once",
            )
        _check_values(timepoints, "timepoints.csv", DYNAMIC_FEATURES, problems)

    outcomes = None
    if (root / "outcomes.csv").is_file() or require_outcomes:
        outcomes = _read_csv(
            root / "outcomes.csv", problems, ["case_id", "response"], {"case_id", "response"}, ""
        )
        if outcomes is not None:
            _check_ids(outcomes, "outcomes.csv", problems, unique=True)
            for line, value in zip(outcomes["_line"], outcomes["response"]):
                if value not in OUTCOMES:
                    problems.add(
                        "outcomes.csv",
                        line,
                        "response",
                        f"'{echo_value(value)}' is not one of {', '.join(OUTCOMES)}",
                    )

    if cases is not None and timepoints is not None:
        _ids_not_in(
            timepoints, "timepoints.csv", set(cases["case_id"]), "is not in cases.csv", problems
        )
        _ids_not_in(
            cases,
            "cases.csv",
            set(timepoints.loc[timepoints["time_point"] == "T0", "case_id"]),
            "has no T0 (baseline) row in timepoints.csv",
            problems,
        )
    if cases is not None and outcomes is not None:
        _ids_not_in(
            outcomes, "outcomes.csv", set(cases["case_id"]), "is not in cases.csv", problems
        )
        if require_outcomes:
            _ids_not_in(
                cases, "cases.csv", set(outcomes["case_id"]), "has no row in outcomes.csv", problems
            )
    if problems:
        raise InvalidCohort(problems.items)
    assert cases is not None and timepoints is not None

    for name in static_names:
        if name not in cases:
            cases[name] = ""
    cases = cases[["case_id"] + static_names].reset_index(drop=True)
    for name in dynamic_names:
        if name not in timepoints:
            timepoints[name] = ""
    if "week" not in timepoints:
        timepoints["week"] = ""
    nominal = dict(zip(TIME_POINTS, WEEKS))
    missing_week = timepoints["week"] == ""
    timepoints.loc[missing_week, "week"] = timepoints.loc[missing_week, "time_point"].map(
        lambda tp: f"{nominal[tp]:g}"
    )
    timepoints["_order"] = timepoints["time_point"].map(TIME_POINTS.index)
    timepoints = timepoints.sort_values(["case_id", "_order"], kind="stable")
    timepoints = timepoints[["case_id", "time_point", "week"] + dynamic_names]
    timepoints = timepoints.reset_index(drop=True)
    if outcomes is not None:
        outcomes = outcomes[["case_id", "response"]].reset_index(drop=True)
    metadata: dict[str, object] = {}
    meta_path = root / "cohort.json"
    if meta_path.is_file():
        metadata = _read_metadata(meta_path)
    return Cohort(root, cases, timepoints, outcomes, metadata, tuple(warnings))
