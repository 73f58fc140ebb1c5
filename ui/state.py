"""What the app keeps: the model once per server, the case and the result once per session.

Widget state is dropped when the user switches pages (Streamlit issue 5813), so a submitted
case is copied into a plain dict in ``st.session_state`` and the widgets are refilled from it.
"""

from __future__ import annotations

import json
from pathlib import Path

import streamlit as st

from mmcrnet import Cohort, Explainer, Predictor, load_cohort
from mmcrnet.guard import Guard

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


@st.cache_data
def map_checks() -> dict[str, dict[str, float]]:
    """The bundled model's measured map quality (``evaluate-explanations``), e.g.
    ``{"mammogram/gradcam": {"pointing_game": ...}}``; empty when it was not measured."""
    path = MODEL_DIR / "explanations.json"
    if not path.is_file():
        return {}
    return dict(json.loads(path.read_text()).get("image_maps", {}))


@st.cache_resource
def guard() -> Guard:
    """The bundled model's out-of-distribution guard (hash checked); one per server."""
    return Guard.load(MODEL_DIR)
