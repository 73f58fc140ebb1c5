"""What the app keeps: the model once per server, the case and the result once per session.

Widget state is dropped when the user switches pages (Streamlit issue 5813), so a submitted
case is copied into a plain dict in ``st.session_state`` and the widgets are refilled from it.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from mmcrnet import Cohort, Explainer, Predictor, load_cohort

ROOT = Path(__file__).resolve().parent.parent
MODEL_DIR = ROOT / "models"
EXAMPLES = ROOT / "assets" / "examples"


@st.cache_resource(show_spinner="Loading the model ...")
def explainer() -> Explainer:
    """The bundled model (weights hash checked), on CUDA when present; one per server."""
    return Explainer(Predictor(MODEL_DIR))


@st.cache_resource
def examples() -> Cohort:
    """The bundled phantom example cases (read-only)."""
    return load_cohort(EXAMPLES)


def empty_case() -> dict[str, object]:
    """A new case: nothing entered, the baseline time point at week 0."""
    return {"static": {}, "timepoints": [{"time_point": "T0", "week": 0.0}]}
