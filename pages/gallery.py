"""Gallery (Teach): phantom cases with their images, true outcome and the model's answer,
filtered by subtype, outcome and whether the model was right; generate more from the page.

    cohort (bundled or generated) -> the model's answers -> filters -> cards -> Open / What if
"""

from __future__ import annotations

import streamlit as st

from mmcrnet import OncoPredictError
from mmcrnet.teach.gallery import cards
from mmcrnet.workspace import Workspace
from ui import teach_state
from ui.errors import bug_box
from ui.gallery_view import answer_ui, batch_for, cards_ui, filters_ui, generate_ui


def page() -> None:
    st.title("Teaching gallery")
    try:
        teach_state.model_line()
    except OncoPredictError as exc:
        st.error(f"The model could not be loaded: {exc}", icon=":material/error:")
        return
    workspace = Workspace.from_environment()
    generate_ui(workspace)
    folders = teach_state.cohort_folders()
    folder = st.selectbox(
        "Phantom cohort",
        folders,
        index=folders.index(teach_state.current_cohort()),
        format_func=teach_state.cohort_label,
        key="gallery.cohort",
    )
    teach_state.choose(folder)
    cohort = teach_state.cohort(str(folder))
    batch = batch_for(folder)
    if batch is None:
        answer_ui(workspace, folder)
    items = cards(cohort, batch)
    shown = filters_ui(items)
    right = sum(c.right is True for c in items)
    judged = sum(c.right is not None for c in items)
    st.caption(
        f"Showing {len(shown)} of {len(items)} cases. The model is right on {right} of the "
        f"{judged} cases it judged (on the DCE-MRI and the whole form)."
    )
    cards_ui(folder, shown)


with bug_box():  # a bug of ours: an error id here, the traceback in the server log
    page()
