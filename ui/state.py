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
from mmcrnet.store.store import CaseStore, database_url

ROOT = Path(__file__).resolve().parent.parent
MODEL_DIR = ROOT / "models"
EXAMPLES = ROOT / "assets" / "examples"


MODEL_KEY = "session.model_dir"  # the model folder this session uses (default: the bundled)


def model_dir() -> Path:
    """The model folder this session uses: the bundled model unless the user chose another
    of the server's model folders (:class:`mmcrnet.workspace.Workspace`)."""
    return Path(st.session_state.get(MODEL_KEY) or MODEL_DIR)


def use_model(folder: Path) -> None:
    """Make ``folder`` (one of the server's model folders, checked by the caller) this
    session's model; a result of the previous model is dropped."""
    st.session_state[MODEL_KEY] = str(folder)
    st.session_state.pop("predict.result", None)


@st.cache_resource(show_spinner="Loading the model ...")
def _explainer(folder: str) -> Explainer:
    return Explainer(Predictor(folder))


def explainer() -> Explainer:
    """The session's model (weights hash checked), on CUDA when present; loaded once per
    server and folder."""
    return _explainer(str(model_dir()))


@st.cache_resource
def examples() -> Cohort:
    """The bundled phantom example cases (read-only)."""
    return load_cohort(EXAMPLES)


@st.cache_data
def _map_checks(folder: str) -> dict[str, dict[str, float]]:
    path = Path(folder) / "explanations.json"
    if not path.is_file():
        return {}
    return dict(json.loads(path.read_text()).get("image_maps", {}))


def map_checks() -> dict[str, dict[str, float]]:
    """The session model's measured map quality (``evaluate-explanations``), e.g.
    ``{"mammogram/gradcam": {"pointing_game": ...}}``; empty when it was not measured."""
    return _map_checks(str(model_dir()))


@st.cache_resource(show_spinner=False)
def _case_store(url: str) -> CaseStore:
    return CaseStore(url)


def case_store() -> CaseStore:
    """The case store (``ONCOPREDICT_DB``, else SQLite in the work folder), opened and migrated
    once per server.

    Raises:
        StoreUnavailable: it cannot be opened (the URL shown without its password).
    """
    return _case_store(database_url())


@st.cache_resource
def _guard(folder: str) -> Guard:
    return Guard.load(folder)


def guard() -> Guard:
    """The session model's out-of-distribution guard (hash checked).

    Raises:
        InvalidModel: the model has none (``python -m mmcrnet guard fit`` makes one).
    """
    return _guard(str(model_dir()))
