"""The tabular part of a case: raw clinical and genomic values per time point, checked by the
schema (every bad field named), and turned into cohort-style tables.

No torch here: the form, case files and reports use it without loading the model.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TypedDict

import pandas as pd

from mmcrnet.errors import InvalidCase
from mmcrnet.features import (
    DYNAMIC_FEATURES,
    FEATURES_BY_NAME,
    STATIC_FEATURES,
    TIME_POINTS,
    WEEK_BOUNDS,
    WEEKS,
    Feature,
    echo_value,
    is_valid_text,
    to_float,
)


class CaseValues(TypedDict):
    """A case as plain data (a form's state, a JSON file's inputs)."""

    static: dict[str, object]
    timepoints: list[dict[str, object]]


@dataclass(frozen=True)
class FieldProblem:
    """One bad field of a case: the feature (or ``week`` / ``time_point``), the time point for
    per-time-point fields (None for static ones) and a one-line message naming the value."""

    field: str
    time_point: str | None
    message: str


def _parse_problem(spec: Feature, value: object, time_point: str | None) -> list[FieldProblem]:
    try:
        spec.parse(value)
    except InvalidCase as exc:
        where = f" at {time_point}" if time_point else ""
        message = str(exc)  # "age: ..." -> "Age: ...", the name the form shows
        if message.startswith(f"{spec.name}:"):
            message = spec.label + message[len(spec.name) :]
        return [FieldProblem(spec.name, time_point, f"{message}{where}")]
    return []


@dataclass(frozen=True)
class ClinicalCase:
    """The tabular part of a case, as raw values (numbers or strings; None = missing).

    Attributes:
        static: static feature name -> value.
        timepoints: one mapping per observed time point, each with ``time_point`` (T0..T3),
            optionally ``week``, and dynamic feature values; T0 is required.
    """

    static: Mapping[str, object]
    timepoints: Sequence[Mapping[str, object]]

    def problems(self) -> tuple[FieldProblem, ...]:
        """Every bad field, in form order (static features, then each time point's week and
        values), each with a one-line message: unknown names, values of the wrong kind or out of
        bounds, a time point given twice or unknown, no T0, weeks out of bounds or not after
        the previous time point's. Empty when the case can be predicted."""
        out: list[FieldProblem] = []
        for name, value in self.static.items():
            spec = FEATURES_BY_NAME.get(name)
            if spec is None or spec.timing != "static":
                out.append(
                    FieldProblem(name, None, f"'{echo_value(name)}' is not a static feature")
                )
                continue
            out.extend(_parse_problem(spec, value, None))
        seen: list[str] = []
        for row in self.timepoints:
            tp = row.get("time_point")
            if tp not in TIME_POINTS:
                out.append(
                    FieldProblem(
                        "time_point",
                        None,
                        f"time_point '{echo_value(tp)}' is not one of {', '.join(TIME_POINTS)}",
                    )
                )
                continue
            if tp in seen:
                out.append(FieldProblem("time_point", str(tp), f"time point {tp} is given twice"))
                continue
            seen.append(str(tp))
            for name, value in row.items():
                if name in ("time_point", "week"):
                    continue
                spec = FEATURES_BY_NAME.get(name)
                if spec is None or spec.timing != "dynamic":
                    shown = echo_value(name)
                    out.append(
                        FieldProblem(
                            name, str(tp), f"'{shown}' at {tp} is not a per-time-point feature"
                        )
                    )
                    continue
                out.extend(_parse_problem(spec, value, str(tp)))
        if "T0" not in seen:
            out.append(FieldProblem("time_point", "T0", "the baseline time point T0 is required"))
        out.extend(self._week_problems())
        return tuple(out)

    def validate(self) -> None:
        """Raises InvalidCase naming the first bad field (see :meth:`problems`)."""
        problems = self.problems()
        if problems:
            raise InvalidCase(problems[0].message)

    def _week_problems(self) -> list[FieldProblem]:
        """Weeks (the nominal week where none is given) within bounds and increasing."""
        given = {
            row["time_point"]: row.get("week")
            for row in self.timepoints
            if row.get("time_point") in TIME_POINTS
        }
        previous: tuple[str, float] | None = None
        out = []
        for tp, nominal in zip(TIME_POINTS, WEEKS):
            if tp not in given:
                continue
            raw = given[tp]
            if isinstance(raw, str) and not is_valid_text(raw):
                out.append(
                    FieldProblem(
                        "week", tp, f"week at {tp} contains a character that is not valid text"
                    )
                )
                continue
            try:
                week = nominal if raw is None or raw == "" or pd.isna(raw) else to_float(raw)
            except (TypeError, ValueError, OverflowError):
                out.append(
                    FieldProblem("week", tp, f"week '{echo_value(raw)}' at {tp} is not a number")
                )
                continue
            if not WEEK_BOUNDS[0] <= week <= WEEK_BOUNDS[1]:
                out.append(
                    FieldProblem(
                        "week",
                        tp,
                        f"Week {week:g} at {tp} is outside the "
                        f"accepted range {WEEK_BOUNDS[0]:g} to "
                        f"{WEEK_BOUNDS[1]:g} weeks",
                    )
                )
                continue
            if previous is not None and week <= previous[1]:
                out.append(
                    FieldProblem(
                        "week",
                        tp,
                        f"week {week:g} at {tp} is not after week "
                        f"{previous[1]:g} at {previous[0]}: each time point comes "
                        "later than the one before",
                    )
                )
            previous = (tp, week)
        return out

    @classmethod
    def from_tables(
        cls, cases: pd.DataFrame, timepoints: pd.DataFrame, case_id: str
    ) -> ClinicalCase:
        """One case of a cohort's ``cases`` / ``timepoints`` tables (e.g. a bundled example).

        Raises:
            InvalidCase: ``case_id`` is not in ``cases``.
        """
        match = cases[cases["case_id"] == case_id]
        if match.empty:
            raise InvalidCase(f"case '{case_id}' is not in the cohort")
        static = match.iloc[0].drop("case_id").to_dict()
        rows = timepoints[timepoints["case_id"] == case_id].drop(columns="case_id")
        return cls(static, rows.to_dict("records"))

    def tables(self) -> tuple[pd.DataFrame, pd.DataFrame]:
        """The case as one-row ``cases`` and ``timepoints`` tables (case_id 'case')."""
        cases = pd.DataFrame(
            [{"case_id": "case", **{s.name: self.static.get(s.name) for s in STATIC_FEATURES}}]
        )
        rows = []
        for row in self.timepoints:
            tp = str(row["time_point"])
            week = row.get("week")
            rows.append(
                {
                    "case_id": "case",
                    "time_point": tp,
                    "week": WEEKS[TIME_POINTS.index(tp)] if week in (None, "") else week,
                    **{s.name: row.get(s.name) for s in DYNAMIC_FEATURES},
                }
            )
        return cases, pd.DataFrame(rows)
