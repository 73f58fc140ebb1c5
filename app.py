"""OncoPredict: the Streamlit router. Start it with ``python -m ui.serve`` (security headers)."""

from __future__ import annotations

import streamlit as st

from mmcrnet import DISCLAIMER, OncoPredictError, __version__
from ui import state
from ui.errors import bug_box

# The sidebar starts closed (it only repeats the model's name and the disclaimer, which every
# page shows) and the pages are in the top bar, so the page has the width from 800 px up.
st.set_page_config(
    page_title="OncoPredict",
    page_icon="🧬",  # drawn locally; a :material: icon is fetched from Google
    layout="wide",
    initial_sidebar_state="collapsed",
)

pages = {
    "": [  # plain links in the top bar: the clinician's pages and About
        st.Page("pages/predict.py", title="Predict", icon=":material/monitoring:", default=True),
        st.Page("pages/cases.py", title="Cases", icon=":material/folder_shared:"),
        st.Page("pages/about.py", title="About", icon=":material/info:"),
    ],
    "Research": [
        st.Page("pages/model.py", title="Model", icon=":material/analytics:"),
        st.Page("pages/cohorts.py", title="Cohorts", icon=":material/table_view:"),
        st.Page("pages/train.py", title="Train", icon=":material/model_training:"),
    ],
    "Teach": [
        st.Page("pages/gallery.py", title="Gallery", icon=":material/photo_library:"),
        st.Page("pages/case_truth.py", title="Case and truth", icon=":material/fact_check:"),
        st.Page("pages/quiz.py", title="Quiz", icon=":material/quiz:"),
        st.Page("pages/what_if.py", title="What if", icon=":material/tune:"),
    ],
}
navigation = st.navigation(pages, position="top")

with st.sidebar:
    st.markdown(f"**OncoPredict** {__version__}")
    try:
        predictor = state.explainer().predictor
        st.caption(
            f"Model: {predictor.name} ({state.model_dir().name}/), trained on "
            f"{predictor.card.get('training_data')}; "
            f"weights {str(predictor.card['weights']['sha256'])[:12]}, "
            f"on {predictor.device.type.upper()}."
        )
    except OncoPredictError as exc:
        st.caption(f"No model loaded: {exc}")
    st.warning(DISCLAIMER, icon=":material/warning:")

with bug_box():  # a bug of ours: an error id on the page, the traceback in the server log
    navigation.run()
