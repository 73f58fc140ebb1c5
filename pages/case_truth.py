"""Case and truth (Teach): one phantom case with the model's answer and reasons beside the
truth: the true tumour outline under the model's map, the tumour in words, the probabilities of
the model, the ideal observer and the oracle, and the attributions beside the true
contributions with a sentence wherever they disagree.

    picker -> open (read, predict, explain, truth) -> images -> answer -> tumour -> reasons
"""

from __future__ import annotations

import streamlit as st

from mmcrnet import OncoPredictError
from ui import teach_state
from ui.errors import bug_box
from ui.truth_view import images_ui, probabilities_ui, reasons_ui, tumour_ui


def page() -> None:
    st.title("A phantom case and its truth")
    try:
        teach_state.model_line()
    except OncoPredictError as exc:
        st.error(f"The model could not be loaded: {exc}", icon=":material/error:")
        return
    cohort, case_id, image = teach_state.picker_ui("truth")
    try:
        with st.spinner(f"Reading, predicting and explaining {case_id} ..."):
            case = teach_state.opened(cohort.root, case_id, image)
    except OncoPredictError as exc:
        st.error(f"Cannot open {case_id}: {exc}", icon=":material/error:")
        return
    images_ui(case)
    probabilities_ui(case)
    tumour_ui(case)
    reasons_ui(case)
    st.caption(f"Opened in {case.seconds:.2f} s (read, predict, explain, compare).")
    if st.button('"What if" for this case', key="truth.whatif"):
        st.switch_page("pages/what_if.py")


with bug_box():  # a bug of ours: an error id here, the traceback in the server log
    page()
