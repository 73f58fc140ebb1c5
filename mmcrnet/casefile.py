"""A case's clinical and genomic values from a file: the form's "load from file".

Two formats, both one case:
- JSON: ``{"static": {feature: value}, "timepoints": [{"time_point": "T0", ...}, ...]}``, or a
  result downloaded from the app (its ``inputs`` hold the same).
- CSV: a header and one row; static features by name, per-time-point values as
  ``<feature>_<time point>`` (``tumor_diameter_cm_T1``) and optionally ``week_<time point>``;
  a ``case_id`` column is ignored.
"""

from __future__ import annotations

import csv
import io
import json

from mmcrnet.case import ClinicalCase
from mmcrnet.errors import InvalidCase
from mmcrnet.features import DYNAMIC_FEATURES, STATIC_FEATURES, TIME_POINTS, echo_value

MAX_BYTES = 1 << 20  # a case is a few hundred bytes; anything this big is not one


def read_case_file(name: str, data: bytes) -> ClinicalCase:
    """Parse and validate a case file.

    Raises:
        InvalidCase: not UTF-8 JSON/CSV (or JSON nested too deeply, CSV the csv module
            refuses), not one case, an unknown column or key, or a value outside the schema or
            not valid text (the message names the file and the field, quoting values briefly).
    """
    if len(data) > MAX_BYTES:
        raise InvalidCase(f"{name}: {len(data)} bytes is too large for one case")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InvalidCase(f"{name}: not a text file (expected UTF-8 JSON or CSV)") from None
    try:
        case = _from_json(text) if text.lstrip().startswith(("{", "[")) else _from_csv(text)
        case.validate()
    except InvalidCase as exc:
        raise InvalidCase(f"{name}: {exc}") from None
    return case


def _json_int(digits: str) -> int | str:
    """A JSON integer; one past Python's int-from-text digit limit stays text, so the schema
    names its field instead of ``json`` failing on the whole file."""
    try:
        return int(digits)
    except ValueError:
        return digits


def _from_json(text: str) -> ClinicalCase:
    try:
        data = json.loads(text, parse_int=_json_int)
    except json.JSONDecodeError as exc:
        raise InvalidCase(f"not valid JSON ({exc.msg} at line {exc.lineno})") from None
    except RecursionError:
        raise InvalidCase("case file is nested too deeply") from None
    if isinstance(data, dict) and isinstance(data.get("inputs"), dict):
        data = data["inputs"]  # a result downloaded from the app
    if (
        not isinstance(data, dict)
        or not isinstance(data.get("static"), dict)
        or not isinstance(data.get("timepoints"), list)
        or not all(isinstance(row, dict) for row in data["timepoints"])
    ):
        raise InvalidCase('expected {"static": {...}, "timepoints": [{...}, ...]}')
    return ClinicalCase(data["static"], data["timepoints"])


def _from_csv(text: str) -> ClinicalCase:
    reader = csv.DictReader(io.StringIO(text))
    try:
        rows = list(reader)
    except csv.Error as exc:  # a lone carriage return, a field over the csv module's limit
        reason = str(exc).split(" - ")[0]  # drop the csv module's hint meant for programmers
        raise InvalidCase(f"not valid CSV at line {reader.reader.line_num} ({reason})") from None
    if len(rows) != 1:
        raise InvalidCase(f"expected a header and exactly one case row, found {len(rows)} rows")
    row = {
        k.strip(): (v.strip() if isinstance(v, str) else v)
        for k, v in rows[0].items()
        if k is not None
    }
    static_names = {s.name for s in STATIC_FEATURES}
    per_time = {f"{s.name}_{tp}": (s.name, tp) for s in DYNAMIC_FEATURES for tp in TIME_POINTS}
    per_time.update({f"week_{tp}": ("week", tp) for tp in TIME_POINTS})
    unknown = [k for k in row if k not in static_names and k not in per_time and k != "case_id"]
    if unknown:
        raise InvalidCase(
            f"unknown column '{echo_value(unknown[0])}' (per-time-point values are named like "
            f"tumor_diameter_cm_T1)"
        )
    static = {k: v for k, v in row.items() if k in static_names and v not in (None, "")}
    timepoints: dict[str, dict[str, object]] = {}
    for key, value in row.items():
        if key in per_time and value not in (None, ""):
            name, tp = per_time[key]
            timepoints.setdefault(tp, {"time_point": tp})[name] = value
    timepoints.setdefault("T0", {"time_point": "T0"})
    return ClinicalCase(static, [timepoints[tp] for tp in TIME_POINTS if tp in timepoints])
