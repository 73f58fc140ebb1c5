"""The Cases page's parts: the saved cases, one case's visits and the prediction's trajectory
across them (each visit with the model that answered), and going on with the next visit on the
Predict page."""

from __future__ import annotations

import plotly.graph_objects as go
import streamlit as st

from mmcrnet import OUTCOMES, ClinicalCase
from mmcrnet.store.store import CaseRecord, CaseStore
from ui.case_form import use_case
from ui.case_record import LABEL, LABEL_BOX
from ui.figures import OUTCOME_COLOURS
from ui.images import SAVED, SOURCE, STUDIES
from ui.result import percent
from ui.tables import table

CHOSEN = "cases.chosen"


def cases_ui(store: CaseStore) -> str | None:
    """The saved cases as a table and a choice; returns the chosen label."""
    cases = store.cases()
    if not cases:
        st.info(
            "No case is saved yet: predict one on the Predict page and save it under a label.",
            icon=":material/info:",
        )
        return None
    table(
        [
            {
                "case": c.label,
                "visits": c.visits,
                "last visit": (c.last_visit or c.created).strftime("%Y-%m-%d %H:%M UTC"),
            }
            for c in cases
        ]
    )
    labels = [c.label for c in cases]
    kept = st.session_state.get(CHOSEN)
    return st.selectbox(
        "Case", labels, index=labels.index(kept) if kept in labels else 0, key="cases.case"
    )


def trajectory_figure(rows: list[dict[str, object]]) -> go.Figure:
    x = [f"visit {r['visit']}" for r in rows]
    figure = go.Figure(
        [
            go.Scatter(
                x=x,
                y=[float(r[o]) for r in rows],  # type: ignore[arg-type]
                name=o,
                mode="lines+markers",
                line_color=OUTCOME_COLOURS[o],
            )
            for o in OUTCOMES
        ]
    )
    figure.update_layout(
        height=280,
        yaxis={"range": [0, 1], "tickformat": ".0%", "title": "probability"},
        margin={"l": 10, "r": 10, "t": 10, "b": 10},
    )
    return figure


def case_ui(store: CaseStore, case: CaseRecord) -> None:
    """One case: the trajectory across visits, the visits, and going on with the next one."""
    st.session_state[CHOSEN] = case.label
    rows = case.trajectory()
    st.subheader(f"{case.label}: the prediction across visits")
    if rows:
        st.plotly_chart(
            trajectory_figure(rows), key="cases.trajectory", config={"displayModeBar": False}
        )
    table(
        [
            {
                "visit": r["visit"],
                "date": r["date"],
                "time points": r["time_points"],
                **{o: percent(float(r[o])) for o in OUTCOMES},
                "most likely": r["predicted"],
                "model (weights)": r["model"],
            }
            for r in rows
        ]
    )
    flagged = [
        v.number
        for v in case.visits
        if v.latest is not None and not (v.latest.result.get("guard") or {}).get("ok", True)
    ]
    if flagged:
        st.warning(
            "Flagged by the model's guard (not a reliable answer): visit "
            + ", ".join(map(str, flagged))
            + ".",
            icon=":material/warning:",
        )
    st.caption(
        "Each visit's latest prediction; every prediction is kept in the append-only record "
        "with its time, model, weights hash and a hash of the inputs."
    )
    if not case.visits:
        return
    last = case.visits[-1]
    image = "with its image" if last.image_summary else "without an image"
    if st.button(
        f"Go on from visit {last.number} on the Predict page ({image})",
        key="cases.continue",
        type="primary",
        help="The form and image of the last visit are loaded; add the new time point's "
        "values, press Predict, then add the result as the next visit.",
    ):
        use_case(ClinicalCase(last.static, last.timepoints))
        study = store.visit_study(last.id)
        studies = dict(st.session_state.get(STUDIES, {}))
        if study is not None:
            studies[SAVED] = study
            st.session_state[SOURCE] = st.session_state[f"{SOURCE}.kept"] = SAVED
        else:
            studies.pop(SAVED, None)
            st.session_state[SOURCE] = st.session_state[f"{SOURCE}.kept"] = "No image"
        st.session_state[STUDIES] = studies
        st.session_state[LABEL] = case.label  # a new label box takes it
        st.session_state[LABEL_BOX] = st.session_state.get(LABEL_BOX, 0) + 1
        st.switch_page("pages/predict.py")
