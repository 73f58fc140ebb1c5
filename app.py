"""OncoPredict: the Streamlit router. Run with ``streamlit run app.py``."""

from __future__ import annotations

import streamlit as st

from mmcrnet import DISCLAIMER, OncoPredictError, __version__
from ui import state

st.set_page_config(page_title="OncoPredict", page_icon=":material/biotech:", layout="wide")

pages = {
    "Clinic": [st.Page("pages/predict.py", title="Predict", icon=":material/monitoring:",
                       default=True)],
    "OncoPredict": [st.Page("pages/about.py", title="About", icon=":material/info:")],
}
navigation = st.navigation(pages)

with st.sidebar:
    st.markdown(f"**OncoPredict** {__version__}")
    try:
        predictor = state.explainer().predictor
        st.caption(f"Model: {predictor.name}, trained on {predictor.card.get('training_data')}; "
                   f"weights {str(predictor.card['weights']['sha256'])[:12]}, "
                   f"on {predictor.device.type.upper()}.")
    except OncoPredictError as exc:
        st.caption(f"No model loaded: {exc}")
    st.warning(DISCLAIMER, icon=":material/warning:")

navigation.run()
