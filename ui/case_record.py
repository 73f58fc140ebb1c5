"""The Predict page's last part: keep the result in the case store (a new case, or the next
visit of a saved one) and take it away (the PDF report, the JSON document).

The label is the user's pseudonym; one that looks like a name, an ID or a date is warned about.
"""

from __future__ import annotations

import streamlit as st

from mmcrnet import OncoPredictError
from mmcrnet.pdf_report import build_pdf
from mmcrnet.report import APP_VERSION
from mmcrnet.store.store import CaseNotFound, CaseRecord, CaseStore, label_warnings, shown_url
from ui import state
from ui.result import RESULT, PageResult

LABEL = "predict.case_label"  # the label, a plain session value (outlives page switches)
LABEL_BOX = "predict.case_label.box"  # the text box's generation: a new one takes LABEL
SAVED = "predict.saved"  # (label, result token) of the result just saved
PDF = "predict.pdf_made"  # ((result token, label, visits), PDF bytes): the report made last


def _saved_case(store: CaseStore | None, label: str) -> CaseRecord | None:
    """The case saved under ``label``, or None (no store, no label, or not saved yet)."""
    if store is None or not label:
        return None
    try:
        return store.case(label)
    except CaseNotFound:
        return None


def save(store: CaseStore, result: PageResult, label: str, new: bool) -> int:
    """Save the result as a new case or the next visit (one transaction); returns the visit's
    number."""
    case = result.case
    prediction = result.explanation.prediction
    visit = store.save_visit(
        label,
        case["static"],
        case["timepoints"],
        result.study,
        result.report(label).to_dict(),
        prediction.model,
        f"served by OncoPredict {APP_VERSION}",
        prediction.weights_sha256,
        new_case=new,
    )
    return visit.number


def record_ui() -> None:
    """Save the result under a pseudonymous label; download it as PDF or JSON."""
    result: PageResult = st.session_state[RESULT]
    st.subheader("4. Keep and take away")
    label = st.text_input(
        "Case label: a pseudonym of your own (never a name, ID or birth date)",
        value=st.session_state.get(LABEL, ""),
        key=f"{LABEL_BOX}.{st.session_state.get(LABEL_BOX, 0)}",
        max_chars=80,
    ).strip()
    st.session_state[LABEL] = label
    for warning in label_warnings(label):
        st.warning(f"Check the label: {warning}.", icon=":material/badge:")
    store: CaseStore | None
    try:
        store = state.case_store()
    except OncoPredictError as exc:
        store = None
        st.error(f"Cases cannot be saved: {exc}", icon=":material/error:")
    saved_case = _saved_case(store, label)
    visits = saved_case.trajectory() if saved_case is not None else []
    saved = st.session_state.get(SAVED)
    left, middle, right = st.columns(3, vertical_alignment="bottom")
    if store is not None:
        exists = saved_case is not None
        title = f"Add as the next visit of {label}" if exists else "Save as a new case"
        if saved == (label, result.token):
            left.success(f"Saved: {label} has {len(visits)} visit(s) with a prediction.")
        elif left.button(title, key="predict.save", disabled=not label, type="primary"):
            try:
                number = save(store, result, label, new=not exists)
            except OncoPredictError as exc:
                st.error(f"Not saved: {exc}", icon=":material/error:")
            else:
                st.session_state[SAVED] = (label, result.token)
                st.toast(f"Saved as visit {number} of {label}.")
                st.rerun()
        if not label:
            left.caption("Give the case a label to save it.")
    explanation, case = result.explanation, result.case

    made = st.session_state.get(PDF)
    if made is not None and made[0] == (result.token, label, len(visits)):
        middle.download_button(
            "Download the report (PDF)",
            made[1],
            file_name=f"oncopredict-{label or 'result'}.pdf".replace(" ", "-"),
            mime="application/pdf",
            key="predict.pdf",
            on_click="ignore",
        )
    elif middle.button("Make the PDF report", key="predict.make_pdf"):
        with st.spinner("Making the PDF report ..."):
            report = build_pdf(
                explanation,
                case["static"],
                case["timepoints"],
                result.study,
                result.guard,
                [*result.left_out],
                label or None,
                visits,
            )
        st.session_state[PDF] = ((result.token, label, len(visits)), report.data)
        st.rerun()
    right.download_button(
        "Download the result (JSON)",
        result.report(label or None).to_json(),
        file_name="oncopredict-result.json",
        mime="application/json",
        key="predict.download",
    )
    if store is not None:
        st.caption(
            f"Cases are kept in {shown_url(store.url)}: the form and the image as the model "
            "read it (pixels only, no DICOM header, no file names), and every prediction in an "
            "append-only record. Follow them on the Cases page."
        )
