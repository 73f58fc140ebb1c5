"""The clinical and genomic form of the Predict page: the schema's features at baseline and a
row per time point, loaded from a case or a file, checked by the engine's own rules
(:meth:`mmcrnet.ClinicalCase.problems`) with each problem shown under its field.

Number inputs have no browser-side bounds on purpose: a bounded input silently keeps its old
value when the user types one outside them, so the model would read something else than the
page shows. Every typed value reaches the server, and a bad one stops Predict with its reason.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from mmcrnet import FEATURES, TIME_POINTS, WEEKS, ClinicalCase, OncoPredictError, read_case_file
from mmcrnet.case import CaseValues, FieldProblem
from mmcrnet.features import Feature, to_float
from mmcrnet.interop.fhir_import import FhirImport, read_fhir_bundle
from ui.names import plain

STATIC = [f for f in FEATURES if f.timing == "static"]
DYNAMIC = [f for f in FEATURES if f.timing == "dynamic"]
MISSING = "(missing)"
CASE = "predict.case"  # the case as last submitted: {"static": {...}, "timepoints": [...]}


@dataclass(frozen=True)
class FormResult:
    """The form after a run: the case as shown, its problems, and whether Predict was pressed."""

    case: CaseValues
    problems: tuple[FieldProblem, ...]
    submitted: bool

    @property
    def clinical(self) -> ClinicalCase:
        return ClinicalCase(self.case["static"], self.case["timepoints"])

    @property
    def empty(self) -> bool:
        """Nothing entered: no static value and no per-time-point value."""
        rows = self.case["timepoints"]
        return not self.case["static"] and not any(
            k not in ("time_point", "week") and v is not None for r in rows for k, v in r.items()
        )


def empty_case() -> CaseValues:
    """A new case: nothing entered, the baseline time point at week 0."""
    return {"static": {}, "timepoints": [{"time_point": "T0", "week": 0.0}]}


def _label(spec: Feature) -> str:
    return f"{spec.label} ({spec.unit})" if spec.unit else spec.label


def _help(spec: Feature) -> str:
    bounds = (
        f" Accepted: {spec.bounds[0]:g} to {spec.bounds[1]:g} {spec.unit}." if spec.bounds else ""
    )
    return f"{spec.help}{bounds} Leave empty if unknown."


def _widget_value(spec: Feature, current: object) -> object:
    """A case's raw value as the form widget shows it (None / MISSING when unknown). Numbers are
    shown as they are, out of range included (the check names them); categories and yes/no go
    through the schema's parser ("Positive", "1", "yes" ... land where they should)."""
    if spec.kind == "numeric":
        try:
            number = to_float(current)
        except (TypeError, ValueError, OverflowError):
            return None
        return None if not np.isfinite(number) else number
    try:
        code = spec.parse(current)
    except OncoPredictError:
        code = float("nan")
    if np.isnan(code):
        return MISSING
    return ("no", "yes")[int(code)] if spec.kind == "binary" else spec.categories[int(code)]


def use_case(clinical: ClinicalCase) -> None:
    """Make ``clinical`` the session's case: saved, shown in the form, old result dropped."""
    case: CaseValues = {
        "static": dict(clinical.static),
        "timepoints": [dict(r) for r in clinical.timepoints],
    }
    st.session_state[CASE] = case
    st.session_state.pop("predict.result", None)
    static = case["static"]
    for spec in STATIC:
        st.session_state[f"predict.field.{spec.name}"] = _widget_value(spec, static.get(spec.name))
    _fill_table(case["timepoints"])


#: The per-time-point table's columns: the week, then the dynamic features.
TABLE_COLUMNS: tuple[tuple[str, str, str], ...] = (
    (
        "week",
        "Week",
        "Weeks since the start of chemotherapy (0 to 52); empty = the nominal week "
        "of the time point ("
        + ", ".join(f"{tp} {w:g}" for tp, w in zip(TIME_POINTS, WEEKS))
        + ").",
    ),
    *((s.name, _label(s), _help(s)) for s in DYNAMIC),
)


def _cell_key(tp: str, name: str) -> str:
    return f"predict.field.{tp}.{name}"


def _fill_table(timepoints: list[dict[str, object]]) -> None:
    given = {str(row["time_point"]): row for row in timepoints}
    for tp in TIME_POINTS:
        row = given.get(tp, {})
        for name, *_ in TABLE_COLUMNS:
            value = row.get(name)  # an empty week is the nominal one (shown as placeholder)
            try:
                number = None if value in (None, "") or pd.isna(value) else to_float(value)
            except (TypeError, ValueError, OverflowError):
                number = None
            st.session_state[_cell_key(tp, name)] = number


def _file_ui() -> None:
    loaded = st.file_uploader(
        "Load the form from a file (optional): JSON, or CSV with one row",
        type=["json", "csv"],
        key="predict.case_file",
        help="JSON as the downloaded result's inputs; CSV columns named "
        "like the features, per time point like "
        "tumor_diameter_cm_T1.",
    )
    if loaded is not None and st.session_state.get("predict.case_file_id") != loaded.file_id:
        try:
            clinical = read_case_file(loaded.name, loaded.getvalue())
        except OncoPredictError as exc:
            st.error(str(exc), icon=":material/error:")
        else:
            st.session_state["predict.case_file_id"] = loaded.file_id  # load each file once
            use_case(clinical)


FHIR_DONE = "predict.fhir_import"  # (file id, FhirImport) of the bundle imported last


def apply_fhir(imported: FhirImport) -> None:
    """Put a bundle's values in the form: only those fields change, the rest stays as it is."""
    case: CaseValues = st.session_state.setdefault(CASE, empty_case())
    case["static"].update(imported.static)
    for spec in STATIC:
        if spec.name in imported.static:
            key = f"predict.field.{spec.name}"
            st.session_state[key] = _widget_value(spec, imported.static[spec.name])
    if imported.baseline:
        rows = case["timepoints"]
        t0 = next((r for r in rows if r.get("time_point") == "T0"), None)
        if t0 is None:
            t0 = {"time_point": "T0", "week": 0.0}
            rows.insert(0, t0)
        t0.update(imported.baseline)
        for name, value in imported.baseline.items():
            st.session_state[_cell_key("T0", name)] = to_float(value)
    st.session_state.pop("predict.result", None)


def _fhir_ui(image_patient_id: str | None) -> None:
    loaded = st.file_uploader(
        "Import from FHIR (optional): an HL7 FHIR R4 Bundle following mCODE, JSON",
        type=["json"],
        key="predict.fhir_file",
        help="Reads age, menopausal status, clinical T and N, ER / PR / Ki-67 %, HER2, BMI, "
        "histology, the baseline tumour size and BRCA1/2, TP53, PIK3CA variants; only those "
        "fields change. An example: assets/fhir/PH00001-mcode.json.",
    )
    done = st.session_state.get(FHIR_DONE)
    if loaded is not None and (done is None or done[0] != loaded.file_id):
        result: FhirImport | str
        try:
            result = read_fhir_bundle(loaded.name, loaded.getvalue())
        except OncoPredictError as exc:
            result = str(exc)  # kept, so the file is read once, not on every rerun
        if isinstance(result, FhirImport):
            apply_fhir(result)
        st.session_state[FHIR_DONE] = done = (loaded.file_id, result)
    if loaded is not None and done is not None and isinstance(done[1], str):
        st.error(plain(done[1]), icon=":material/error:")
    elif loaded is not None and done is not None:
        imported = done[1]
        count = len(imported.imported)
        st.success(
            f"Imported {count} value{'s' if count != 1 else ''} from {plain(loaded.name)}; "
            "the other fields are as they were.",
            icon=":material/download:",
        )
        if imported.other_patient(image_patient_id):
            st.warning(
                "The bundle's patient is not the images' patient: none of its identifiers is "
                "the images' Patient ID. Check that the form and the images are of one patient.",
                icon=":material/person_alert:",
            )
        with st.expander(
            f"What was imported, and {len(imported.not_mapped)} element(s) not mapped"
        ):
            st.markdown("\n".join(f"- {plain(line)}" for line in imported.imported) or "Nothing.")
            if imported.not_mapped:
                st.markdown("**Not mapped**")
                st.markdown("\n".join(f"- {plain(line)}" for line in imported.not_mapped))


def _problem_line(slot: DeltaGenerator, problems: list[FieldProblem]) -> None:
    if problems:
        slot.markdown("  \n".join(f":red[:material/error: {p.message}]" for p in problems))


def form_ui(image_patient_id: str | None = None) -> FormResult:
    """The form; returns the case as shown, its problems and whether Predict was pressed.
    ``image_patient_id``: the images' Patient ID, which a FHIR bundle's patient is checked
    against."""
    st.subheader("2. Clinical and genomic data")
    _file_ui()
    _fhir_ui(image_patient_id)
    case: CaseValues = st.session_state.setdefault(CASE, empty_case())
    slots: dict[tuple[str, str | None], Any] = {}
    with st.form("predict.form"):
        st.caption(
            "Empty or (missing) = unknown; the model handles missing values and the "
            "result says how much of the form it had."
        )
        static: dict[str, object] = {}
        for group in ("clinical", "genomic"):
            st.markdown(f"**{group.capitalize()}** (at baseline)")
            columns = st.columns(3)
            specs = [spec for spec in STATIC if spec.group == group]
            for i, spec in enumerate(specs):
                column = columns[i % 3]
                static[spec.name] = _field(column, spec, case["static"].get(spec.name))
                slots[(spec.name, None)] = column.empty()
        st.markdown(
            "**Per time point** (T0 = baseline, then after each cycle; leave a row "
            "empty if that time point is not available)"
        )
        rows, row_slots = _timepoint_table(case["timepoints"])
        submitted = st.form_submit_button("Predict", type="primary")
    shown: CaseValues = {
        "static": {k: v for k, v in static.items() if v is not None},
        "timepoints": rows,
    }
    problems = list(ClinicalCase(shown["static"], rows).problems())
    problems += [
        FieldProblem(
            "week",
            str(r["time_point"]),
            f"Week {r['week']:g} at {r['time_point']} has no values: fill them or clear the week",
        )
        for r in _week_only_rows(row_slots)
    ]
    for (name, _), slot in slots.items():
        _problem_line(slot, [p for p in problems if p.field == name and p.time_point is None])
    for tp, (slot, _) in row_slots.items():
        _problem_line(slot, [p for p in problems if p.time_point == tp])
    if submitted:
        st.session_state[CASE] = shown
    return FormResult(shown, tuple(problems), submitted)


def _week_only_rows(row_slots: dict[str, tuple[Any, dict[str, object]]]) -> list[dict[str, object]]:
    return [
        row
        for tp, (_, row) in row_slots.items()
        if tp != "T0"
        and row.get("week") is not None
        and all(row.get(s.name) is None for s in DYNAMIC)
    ]


def _field(column: DeltaGenerator, spec: Feature, current: object) -> object:
    key = f"predict.field.{spec.name}"
    if key not in st.session_state:  # first visit, or back from another page
        st.session_state[key] = _widget_value(spec, current)
    if spec.kind == "numeric":
        return column.number_input(
            _label(spec),
            value=None,
            step=1.0 if spec.integer else None,
            format="%g",
            help=_help(spec),
            key=key,
        )
    options = [MISSING, *spec.categories] if spec.kind == "categorical" else [MISSING, "no", "yes"]
    value = column.selectbox(_label(spec), options, help=spec.help, key=key)
    if value == MISSING:
        return None
    return {"yes": 1, "no": 0}.get(value, value) if spec.kind == "binary" else value


def _timepoint_table(
    timepoints: list[dict[str, object]],
) -> tuple[list[dict[str, object]], dict[str, tuple[Any, dict[str, object]]]]:
    """The per-time-point values as a table of number inputs (a row per time point T0..T3,
    each cell labelled for screen readers and tests, a line under each row for its problems);
    returns the rows that hold a value (T0 always) and, per time point, (problem slot, row)."""
    if _cell_key("T0", "week") not in st.session_state:  # first visit, or back from a page
        _fill_table(timepoints)
    widths = [1] + [2] * len(TABLE_COLUMNS)
    header = st.columns(widths)
    header[0].markdown("**time point**")
    for column, (_, label, help_text) in zip(header[1:], TABLE_COLUMNS):
        column.markdown(f"**{label}**", help=help_text)
    out = []
    slots = {}
    for tp, nominal in zip(TIME_POINTS, WEEKS):
        cells = st.columns(widths, vertical_alignment="center")
        cells[0].markdown(tp)
        row: dict[str, object] = {"time_point": tp}
        for cell, (name, label, help_text) in zip(cells[1:], TABLE_COLUMNS):
            key = _cell_key(tp, name)
            # Empty unless a value was entered or loaded (never the widget's default minimum:
            # a lost widget state must not turn into a measured 0).
            row[name] = cell.number_input(
                f"{label} at {tp}",
                value=None,
                key=key,
                help=help_text,
                format="%g",
                placeholder=f"{nominal:g} (nominal)" if name == "week" else None,
                label_visibility="collapsed",
            )
        slots[tp] = (st.empty(), row)
        if tp == "T0" or any(row[s.name] is not None for s in DYNAMIC):
            out.append(row)
    return out, slots
