"""Quiz (Teach): a phantom case without its answer; the learner picks the response and, if they
like, where the evidence is; the reveal shows the truth and the model's answer and map, and
scores both. A running score per session; the cases cover the subtypes and the hard ones.

    quiz set -> round (images + form) -> answer (+ point) -> mark -> reveal -> next
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from mmcrnet import OncoPredictError
from ui import teach_state
from ui.errors import bug_box
from ui.quiz_view import finished_ui, reveal_ui, round_ui, score_ui, setup_ui


def page() -> None:
    st.title("Quiz")
    try:
        teach_state.model_line()
    except OncoPredictError as exc:
        st.error(f"The model could not be loaded: {exc}", icon=":material/error:")
        return
    quiz = setup_ui()
    score_ui()
    if quiz.finished:
        finished_ui(quiz)
        return
    item = quiz.items[quiz.index]
    try:
        with st.spinner("Loading the case ..."):
            case = teach_state.opened(Path(quiz.cohort), item.case_id, "mri")
    except OncoPredictError as exc:
        st.error(f"Cannot open {item.case_id}: {exc}", icon=":material/error:")
        return
    if quiz.marked is None:
        round_ui(quiz, case)
    else:
        reveal_ui(quiz, case)


with bug_box():  # a bug of ours: an error id here, the traceback in the server log
    page()
