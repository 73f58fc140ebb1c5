"""Predict: upload a case (or pick a bundled example), get the predicted response to
neoadjuvant chemotherapy with its reasons."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import streamlit as st

from mmcrnet import (DISCLAIMER, FEATURES, OUTCOMES, TIME_POINTS, WEEK_BOUNDS, WEEKS,
                     ClinicalCase, OncoPredictError, RawFile, Study, __version__,
                     dce_phase_indices, read_case_file, read_paths, read_study)
from ui import figures, state

CASE, STUDY, RESULT, TARGET = ("predict.case", "predict.study", "predict.result",
                                "predict.target")
STATIC = [f for f in FEATURES if f.timing == "static"]
DYNAMIC = [f for f in FEATURES if f.timing == "dynamic"]
MISSING = "(missing)"


def _label(spec) -> str:  # noqa: ANN001 - a mmcrnet.Feature
    return f"{spec.label} ({spec.unit})" if spec.unit else spec.label


def _help(spec) -> str:  # noqa: ANN001
    bounds = f" Accepted: {spec.bounds[0]:g} to {spec.bounds[1]:g} {spec.unit}." \
        if spec.bounds else ""
    return f"{spec.help}{bounds} Leave empty if unknown."


def images_ui() -> None:
    """Choose the images: a bundled example, an upload, or none. Keeps the study in session."""
    st.subheader("1. Images")
    source = st.radio("Images from", ["Bundled example", "Upload", "No image"], horizontal=True,
                      key="predict.source")
    if source == "Bundled example":
        cohort = state.examples()
        left, right = st.columns([3, 1])
        case_id = left.selectbox("Example case", cohort.case_ids, key="predict.example")
        if right.button("Load example", key="predict.load_example", width="stretch"):
            use_case(ClinicalCase.from_tables(cohort.cases, cohort.timepoints, case_id))
            st.session_state[STUDY] = read_paths(cohort.image_paths(case_id, "mri"))
    elif source == "Upload":
        kind = st.radio("PNG/JPEG images are", ["DCE-MRI phases (MR)", "a mammogram (MG)"],
                        horizontal=True, key="predict.raster_modality",
                        help="DICOM files carry their own modality.")
        uploads = st.file_uploader(
            "DICOM files of one series, a zip, a multi-frame DICOM, or PNG/JPEG images",
            accept_multiple_files=True, key="predict.upload")
        if uploads:
            try:
                st.session_state[STUDY] = read_study(
                    [RawFile(u.name, u.getvalue()) for u in uploads],
                    modality="MR" if kind.startswith("DCE") else "MG")
            except OncoPredictError as exc:
                st.session_state.pop(STUDY, None)
                st.error(str(exc), icon=":material/error:")
    else:
        st.session_state.pop(STUDY, None)
    study: Study | None = st.session_state.get(STUDY)
    if study is not None and source != "No image":
        study_ui(study)


def study_ui(study: Study) -> None:
    """What was read: modality, phases, slice (slider when there are several)."""
    phases = ", ".join(f"{p.label}" + (f" ({p.time_s:g} s)" if p.time_s is not None else "")
                       for p in study.phases)
    st.caption(f"Read: {study.modality} ({study.kind}), {len(study.phases)} phase(s): {phases}; "
               f"{study.image.shape[-2]} x {study.image.shape[-1]} pixels"
               + (f", {study.pixel_spacing_mm[0]:.2f} mm" if study.pixel_spacing_mm else ""))
    slices = study.shape[1]
    if slices > 1:
        chosen = st.slider("Slice", 0, slices - 1, study.slice_index, key="predict.slice")
        if chosen != study.slice_index:
            study = study.with_slice(chosen)
            st.session_state[STUDY] = study
    for warning in study.warnings:
        st.warning(warning, icon=":material/info:")
    columns = st.columns(len(study.phases))
    for column, phase, pixels in zip(columns, study.phases, study.image):
        column.image(np.clip(pixels, 0, 1), caption=phase.label, width="stretch")


def form_ui() -> bool:
    """The clinical and genomic form; returns True when submitted (the case is saved)."""
    st.subheader("2. Clinical and genomic data")
    loaded = st.file_uploader("Load the form from a file (optional): JSON, or CSV with one row",
                              type=["json", "csv"], key="predict.case_file",
                              help="JSON as the downloaded result's inputs; CSV columns named "
                                   "like the features, per time point like "
                                   "tumor_diameter_cm_T1.")
    if loaded is not None and st.session_state.get("predict.case_file_id") != loaded.file_id:
        try:
            clinical = read_case_file(loaded.name, loaded.getvalue())
        except OncoPredictError as exc:
            st.error(str(exc), icon=":material/error:")
        else:
            st.session_state["predict.case_file_id"] = loaded.file_id  # load each file once
            use_case(clinical)
    case = st.session_state.setdefault(CASE, state.empty_case())
    static = case["static"]
    with st.form("predict.form"):
        st.caption("Empty or (missing) = unknown; the model handles missing values.")
        values: dict[str, object] = {}
        for group in ("clinical", "genomic"):
            st.markdown(f"**{group.capitalize()}** (at baseline)")
            columns = st.columns(3)
            specs = [spec for spec in STATIC if spec.group == group]
            for i, spec in enumerate(specs):
                values[spec.name] = _field(columns[i % 3], spec, static.get(spec.name))
        st.markdown("**Per time point** (T0 = baseline, then after each cycle; leave a row "
                    "empty if that time point is not available)")
        rows = timepoint_table(case["timepoints"])
        submitted = st.form_submit_button("Predict", type="primary")
    if submitted:
        st.session_state[CASE] = {"static": {k: v for k, v in values.items() if v is not None},
                                  "timepoints": rows}
    return submitted


def _widget_value(spec, current: object) -> object:  # noqa: ANN001
    """A case's raw value as the form widget shows it (None / MISSING when unknown), read by
    the schema's own parser (so "Positive", "1", "yes" ... all land where they should)."""
    try:
        code = spec.parse(current)
    except OncoPredictError:  # out of the schema: shown as unknown, validation names it
        code = float("nan")
    if spec.kind == "numeric":
        return None if np.isnan(code) else code
    if np.isnan(code):
        return MISSING
    return ("no", "yes")[int(code)] if spec.kind == "binary" else spec.categories[int(code)]


def use_case(clinical: ClinicalCase) -> None:
    """Make ``clinical`` the session's case: saved, shown in the form, old result dropped."""
    case = {"static": dict(clinical.static), "timepoints": [dict(r) for r in clinical.timepoints]}
    st.session_state[CASE] = case
    st.session_state.pop(RESULT, None)
    fill_form(case)


def fill_form(case: dict[str, object]) -> None:
    """Put a case into the form's widgets (their state, so the browser shows it too)."""
    static = case["static"]
    for spec in STATIC:
        st.session_state[f"predict.field.{spec.name}"] = _widget_value(spec, static.get(spec.name))  # type: ignore[union-attr]
    _fill_table(case["timepoints"])  # type: ignore[arg-type]


def _field(column, spec, current: object) -> object:  # noqa: ANN001
    key = f"predict.field.{spec.name}"
    if key not in st.session_state:  # first visit, or back from another page
        st.session_state[key] = _widget_value(spec, current)
    if spec.kind == "numeric":
        return column.number_input(_label(spec), min_value=float(spec.bounds[0]),
                                   max_value=float(spec.bounds[1]),
                                   step=1.0 if spec.integer else None, help=_help(spec), key=key)
    options = [MISSING, *spec.categories] if spec.kind == "categorical" else [MISSING, "no", "yes"]
    value = column.selectbox(_label(spec), options, help=spec.help, key=key)
    if value == MISSING:
        return None
    return {"yes": 1, "no": 0}.get(value, value) if spec.kind == "binary" else value


#: The per-time-point table's columns: the week, then the dynamic features.
TABLE_COLUMNS: tuple[tuple[str, str, tuple[float, float], str], ...] = (
    ("week", "Week", WEEK_BOUNDS, "Weeks since the start of chemotherapy; empty = the nominal "
     "week of the time point (" + ", ".join(f"{tp} {w:g}" for tp, w in zip(TIME_POINTS, WEEKS))
     + ")."),
    *((s.name, _label(s), (float(s.bounds[0]), float(s.bounds[1])), _help(s)) for s in DYNAMIC),
)


def _cell_key(tp: str, name: str) -> str:
    return f"predict.field.{tp}.{name}"


def _fill_table(timepoints: list[dict[str, object]]) -> None:
    given = {str(row["time_point"]): row for row in timepoints}
    for tp in TIME_POINTS:
        row = given.get(tp, {})
        for name, *_ in TABLE_COLUMNS:
            value = row.get(name)  # an empty week is the nominal one (shown as placeholder)
            st.session_state[_cell_key(tp, name)] = \
                None if value in (None, "") or pd.isna(value) else float(value)  # type: ignore[arg-type]


def timepoint_table(timepoints: list[dict[str, object]]) -> list[dict[str, object]]:
    """The per-time-point values as a table of number inputs (a row per time point T0..T3,
    each cell labelled for screen readers and tests); returns the rows that hold a value (T0
    always), as plain dicts."""
    if _cell_key("T0", "week") not in st.session_state:  # first visit, or back from a page
        _fill_table(timepoints)
    header = st.columns([1] + [2] * len(TABLE_COLUMNS))
    header[0].markdown("**time point**")
    for column, (_, label, _, help_text) in zip(header[1:], TABLE_COLUMNS):
        column.markdown(f"**{label}**", help=help_text)
    out = []
    for tp, nominal in zip(TIME_POINTS, WEEKS):
        cells = st.columns([1] + [2] * len(TABLE_COLUMNS), vertical_alignment="center")
        cells[0].markdown(tp)
        row: dict[str, object] = {"time_point": tp}
        for cell, (name, label, (low, high), help_text) in zip(cells[1:], TABLE_COLUMNS):
            key = _cell_key(tp, name)
            # Empty unless a value was entered or loaded (never the widget's default minimum:
            # a lost widget state must not turn into a measured 0).
            default = {} if key in st.session_state else {"value": None}
            row[name] = cell.number_input(
                f"{label} at {tp}", min_value=low, max_value=high, key=key, help=help_text,
                placeholder=f"{nominal:g} (nominal)" if name == "week" else None,
                label_visibility="collapsed", **default)
        if tp == "T0" or any(row[s.name] is not None for s in DYNAMIC):
            out.append(row)
    return out


def predict(explainer) -> None:  # noqa: ANN001 - mmcrnet.Explainer
    """Validate the saved case and explain it; one line naming the problem otherwise."""
    case = st.session_state[CASE]
    clinical = ClinicalCase(case["static"], case["timepoints"])
    st.session_state.pop(TARGET, None)  # a new prediction is explained for its own outcome
    try:
        with st.spinner("Predicting and explaining ..."):
            study = st.session_state.get(STUDY)
            st.session_state[RESULT] = (explainer.explain(clinical, study), case, study)
    except OncoPredictError as exc:
        st.session_state.pop(RESULT, None)
        st.error(f"Cannot predict: {exc}", icon=":material/error:")


def result_ui(explainer) -> None:  # noqa: ANN001 - mmcrnet.Explainer
    """The prediction and its reasons (for the predicted outcome, or another on request)."""
    explanation, case, study = st.session_state[RESULT]  # as they were at "Predict"
    prediction = explanation.prediction
    st.subheader("3. Result")
    st.error(f"{DISCLAIMER} Model: {prediction.model}, trained on {prediction.training_data}.",
             icon=":material/warning:")
    columns = st.columns(len(OUTCOMES))
    for column, outcome in zip(columns, OUTCOMES):
        column.metric(f"P({outcome})", f"{prediction.probabilities[outcome]:.0%}",
                      border=outcome == prediction.label)
    st.markdown(f"Predicted response: **{prediction.label}** (calibrated; "
                f"{prediction.time_points} time point(s), image: {prediction.image_kind}).")
    target = st.selectbox(
        "Explain the outcome", OUTCOMES, index=OUTCOMES.index(explanation.target), key=TARGET,
        format_func=lambda c: f"{c} (predicted)" if c == prediction.label else c,
        help="The reasons below are for this outcome: what pushes the case towards it, and "
             "what pushes it away.")
    if target != explanation.target:
        clinical = ClinicalCase(case["static"], case["timepoints"])
        explanation = explainer.explain(clinical, study, target)
        st.session_state[RESULT] = (explanation, case, study)
    if explanation.image is not None and study is not None:
        st.markdown(f"**Where the image points towards or away from {explanation.target}** "
                    f"(on {explanation.image.layer})")
        left, middle, right = st.columns([2, 2, 3], vertical_alignment="bottom")
        opacity = left.slider("Overlay opacity", 0.0, 1.0, 0.5, 0.05, key="predict.opacity")
        method = middle.radio("Map", ["gradcam", "hirescam"], horizontal=True,
                              key="predict.method",
                              format_func={"gradcam": "Grad-CAM", "hirescam": "HiResCAM"}.get)
        against = right.checkbox(
            "Also show evidence against (blue)", value=True, key="predict.against",
            help="Off: the classic map, only where the image pushes towards the outcome.")
        cam = explanation.image.maps[method]
        shown = (dce_phase_indices([p.time_s for p in study.phases])
                 if explanation.image.kind == "mri" else (0,))  # the phases the model read
        columns = st.columns(2 * len(shown))
        for i, (phase, index) in enumerate(zip(explanation.image.channels, shown)):
            pixels = study.image[index]
            columns[2 * i].image(np.clip(pixels, 0, 1), caption=phase, width="stretch")
            columns[2 * i + 1].image(figures.overlay(pixels, cam, opacity, against),
                                     caption=f"{phase}: evidence", width="stretch")
        st.image(figures.colour_bar(against),
                 caption=(f"strongest evidence away from {explanation.target} (left) to "
                          "strongest towards it (right)") if against else
                 f"evidence towards {explanation.target}: none (left) to strongest (right)",
                 width=256)
        st.caption("Red: the patterns the model detects there push towards the outcome; blue: "
                   "away from it, compared with an image in which it detects none. The chart "
                   "of what each kind of data contributed (below) compares with having no "
                   "image at all, so the two can differ.")
    if explanation.sequence is not None:
        st.markdown(f"**Reasons in the clinical and genomic data** (towards or away from "
                    f"{explanation.target}, Integrated Gradients)")
        st.plotly_chart(figures.top_reasons(explanation), key="predict.reasons")
        st.plotly_chart(figures.attribution_heatmap(explanation), key="predict.heatmap")
    left, right = st.columns(2)
    left.markdown("**What each kind of data contributed** (Shapley values)")
    left.plotly_chart(figures.modalities(explanation), key="predict.modalities")
    right.markdown("**How the prediction changed with each time point**")
    right.plotly_chart(figures.trajectory(explanation), key="predict.trajectory")
    report = {"disclaimer": DISCLAIMER, "app": {"name": "OncoPredict", "version": __version__},
              "inputs": {**case, "image": study.summary()
                                                   if study is not None else None},
              "explanation": explanation.to_dict(include_maps=False)}
    st.download_button("Download the result (JSON)", json.dumps(report, indent=1, default=str),
                       file_name="oncopredict-result.json", mime="application/json",
                       key="predict.download")


st.title("Predict the response to neoadjuvant chemotherapy")
st.error(DISCLAIMER, icon=":material/warning:")
try:
    model = state.explainer()
except OncoPredictError as exc:
    st.error(f"The model could not be loaded: {exc}", icon=":material/error:")
    st.stop()
images_ui()
if form_ui():
    predict(model)
if RESULT in st.session_state:
    result_ui(model)
