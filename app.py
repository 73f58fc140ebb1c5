"""OncoPredict: the Streamlit router. Run with ``streamlit run app.py``."""

from __future__ import annotations

import streamlit as st

from mmcrnet import DISCLAIMER, __version__

st.set_page_config(page_title="OncoPredict", page_icon=":material/biotech:", layout="wide")

pages = {
    "OncoPredict": [st.Page("pages/about.py", title="About", icon=":material/info:",
                            default=True)],
}
navigation = st.navigation(pages)

with st.sidebar:
    st.markdown(f"**OncoPredict** {__version__}")
    st.warning(DISCLAIMER, icon=":material/warning:")

navigation.run()
