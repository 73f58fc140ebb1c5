"""Train (Research): train MM-CRNet on a new phantom cohort or a cohort folder as a background
job, follow it live, compare it with the bundled model and use it in this session."""

from __future__ import annotations

import streamlit as st

from mmcrnet import DISCLAIMER
from mmcrnet.workspace import Workspace
from ui.errors import bug_box
from ui.train_view import jobs_ui, setup_ui, start_training


def page() -> None:
    st.title("Train a model")
    st.error(
        f"{DISCLAIMER} Models trained here are research artefacts; their cards name their "
        "training data.",
        icon=":material/warning:",
    )
    st.caption(
        "Training runs as a background process on this server: it goes on if you close the "
        "page, and other users are not blocked. Each epoch is saved, so a cancelled or "
        "interrupted run resumes where it stopped."
    )
    workspace = Workspace.from_environment()
    args = setup_ui(workspace)
    if args is not None:
        start_training(workspace, args)
    jobs_ui(workspace)


with bug_box():  # a bug of ours: an error id here, the traceback in the server log
    page()
