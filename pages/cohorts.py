"""Cohorts (Research): bring a cohort (zip upload, or a folder on the server), check it,
batch-predict it in the background, and evaluate the result when it has outcomes."""

from __future__ import annotations

import streamlit as st

from mmcrnet import DISCLAIMER, OncoPredictError
from mmcrnet.workspace import Workspace
from ui import state
from ui.cohort_view import choose_cohort_ui, job_ui, predict_ui, validation_ui
from ui.errors import bug_box


def page() -> None:
    st.title("Your cohort: check, predict, evaluate")
    try:
        model = state.explainer().predictor
    except OncoPredictError as exc:
        st.error(f"The model could not be loaded: {exc}", icon=":material/error:")
        st.stop()
    st.error(
        f"{DISCLAIMER} Model: {model.name} ({state.model_dir().name}/), trained on "
        f"{model.card.get('training_data')}.",
        icon=":material/warning:",
    )
    workspace = Workspace.from_environment()
    folder = choose_cohort_ui(workspace)
    if folder is None:
        return
    if validation_ui(folder) is None:
        return
    predict_ui(workspace, folder)
    job_ui(workspace, folder)


with bug_box():  # a bug of ours: an error id here, the traceback in the server log
    page()
