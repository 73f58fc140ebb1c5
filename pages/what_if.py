"""What if (Teach): change one input of a phantom case over its range and see the model's
probabilities and the truth's move together; where the model departs from the truth, in words.

    picker -> open the case -> input -> sweep (model, ideal observer, oracle) -> chart + words
"""

from __future__ import annotations

import streamlit as st

from mmcrnet import OncoPredictError
from mmcrnet.teach.whatif import INPUTS_BY_NAME, WHAT_IF_INPUTS
from ui import teach_figures as tf
from ui import teach_state
from ui.errors import bug_box
from ui.tables import table

INPUT = "whatif.input"


def page() -> None:
    st.title("What if ...")
    try:
        teach_state.model_line()
    except OncoPredictError as exc:
        st.error(f"The model could not be loaded: {exc}", icon=":material/error:")
        return
    cohort, case_id, image = teach_state.picker_ui("whatif")
    names = [item.name for item in WHAT_IF_INPUTS]
    kept = st.session_state.get(f"{INPUT}.kept", names[0])
    name = st.selectbox(
        "Input to vary",
        names,
        index=names.index(kept) if kept in names else 0,
        format_func=lambda n: INPUTS_BY_NAME[n].label,
        key=INPUT,
        help="Tumour properties are drawn again by the phantom's renderer (only that property "
        "changes) and read by the model like an upload.",
    )
    st.session_state[f"{INPUT}.kept"] = name
    item = INPUTS_BY_NAME[name]
    try:
        with st.spinner(f"Drawing the curve of {item.label} for {case_id} ..."):
            case = teach_state.opened(cohort.root, case_id, image)
            sweep = teach_state.swept(cohort.root, case_id, image, name)
    except OncoPredictError as exc:
        st.error(f"Cannot draw this curve: {exc}", icon=":material/error:")
        return
    st.markdown(
        f"**{case_id}** ({case.truth.subtype}, truth: {case.truth.outcome}); its own "
        f"{item.label}: **{sweep.shown(sweep.current)}** (the grey line)."
    )
    st.plotly_chart(tf.whatif_chart(sweep), key="whatif.chart", config={"displayModeBar": False})
    st.caption(
        "Solid: the model. Dashed: the ideal observer (the true model, this tumour and every "
        "value shown, not the hidden chemosensitivity u). Dotted: the oracle (knows u). "
        "Grey crosses: values the model flags as outside its training data (its line breaks "
        "there). Probabilities in %; moves in percentage points."
    )
    st.markdown("**What the curves say**")
    for line in sweep.findings():
        st.markdown(f"- {line}")
    with st.expander("The curves as a table (text equivalent of the chart)"):
        table(sweep.rows())
    st.caption(f"Drawn in {sweep.seconds:.2f} s ({len(sweep.values)} values).")


with bug_box():  # a bug of ours: an error id here, the traceback in the server log
    page()
