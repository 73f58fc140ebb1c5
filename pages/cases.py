"""Cases: the saved (pseudonymous) cases, each with its visits and the prediction's trajectory
across them; go on with the next visit on the Predict page.

    store -> cases -> one case -> trajectory + visits -> Predict (the next visit)
"""

from __future__ import annotations

import streamlit as st

from mmcrnet import DISCLAIMER, OncoPredictError
from mmcrnet.store.store import shown_url
from ui import state
from ui.cases_view import case_ui, cases_ui
from ui.errors import bug_box


def page() -> None:
    st.title("Cases")
    st.error(
        f"{DISCLAIMER} Each prediction names the model that made it and its training data.",
        icon=":material/warning:",
    )
    try:
        store = state.case_store()
    except OncoPredictError as exc:
        st.error(f"The case store cannot be opened: {exc}", icon=":material/error:")
        return
    st.caption(f"Kept in {shown_url(store.url)}.")
    label = cases_ui(store)
    if label is None:
        return
    try:
        case = store.case(label)
    except OncoPredictError as exc:
        st.error(f"Cannot open {label}: {exc}", icon=":material/error:")
        return
    case_ui(store, case)


with bug_box():  # a bug of ours: an error id here, the traceback in the server log
    page()
