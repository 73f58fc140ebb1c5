"""Model (Research): the model card, its evaluation and its explanations checked against the
truth, for the model this session uses."""

from __future__ import annotations

import streamlit as st

from mmcrnet.checkpoint import InvalidModel
from mmcrnet.model_card import ModelDocuments, read_documents
from mmcrnet.workspace import Workspace
from ui import state
from ui.errors import bug_box
from ui.model_view import model_choice_ui, model_page_ui


@st.cache_data(show_spinner=False)
def documents(folder: str) -> ModelDocuments:
    return read_documents(folder)


def page() -> None:
    st.title("The model")
    model_choice_ui(Workspace.from_environment())
    try:
        docs = documents(str(state.model_dir()))
    except InvalidModel as exc:
        st.error(f"No model to describe: {exc}")
        return
    model_page_ui(docs)


with bug_box():  # a bug of ours: an error id here, the traceback in the server log
    page()
