"""What the teaching pages share: the phantom cohorts on offer (the bundled examples and the
ones generated from the Gallery), the case being taught, and the engine's work on it, cached.

The choice of cohort and case lives in plain session keys, so the Gallery's "Open" and the
Quiz's "Open this case" carry it to the Case and What if pages (widget state does not survive a
page switch)."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from mmcrnet import DISCLAIMER, Cohort, load_cohort
from mmcrnet.batch_predict import BatchResult, predict_cohort
from mmcrnet.teach.case import TeachingCase, open_case
from mmcrnet.teach.gallery import teaching_cohorts
from mmcrnet.teach.whatif import INPUTS_BY_NAME, Sweep, sweep
from mmcrnet.workspace import Workspace
from ui import state

COHORT, CASE, IMAGE = "teach.cohort", "teach.case", "teach.image"
IMAGES = {"mri": "DCE-MRI", "mammogram": "mammogram"}


def teaching_root(workspace: Workspace | None = None) -> Path:
    """Where the Gallery writes its phantom cohorts."""
    return (workspace or Workspace.from_environment()).work / "teaching"


def cohort_folders() -> list[Path]:
    """The bundled examples first, then the generated teaching cohorts."""
    return [state.EXAMPLES, *teaching_cohorts(teaching_root())]


def cohort_label(folder: Path) -> str:
    if folder == state.EXAMPLES:
        return "Bundled examples (12 cases)"
    name = folder.name.removeprefix("phantom-")
    n, seed = name.split("-")
    return f"Phantom cohort: {n.removeprefix('n')} cases, seed {seed.removeprefix('seed')}"


@st.cache_resource(show_spinner=False)
def cohort(folder: str) -> Cohort:
    """A teaching cohort, loaded once per server."""
    return load_cohort(folder)


def current_cohort() -> Path:
    """The cohort being taught (the bundled examples until another is chosen)."""
    chosen = st.session_state.get(COHORT)
    folders = cohort_folders()
    return Path(chosen) if chosen and Path(chosen) in folders else folders[0]


def choose(folder: Path, case_id: str | None = None, image: str | None = None) -> None:
    """Teach this cohort (and case, and image) from now on, on every teaching page."""
    st.session_state[COHORT] = str(folder)
    if case_id is not None:
        st.session_state[CASE] = case_id
    if image is not None:
        st.session_state[IMAGE] = image


def picker_ui(prefix: str) -> tuple[Cohort, str, str]:
    """Choose the cohort, the case and the image (kept across the teaching pages)."""
    folders = cohort_folders()
    folder = current_cohort()
    left, middle, right = st.columns([3, 2, 2])
    picked = left.selectbox(
        "Phantom cohort",
        folders,
        index=folders.index(folder),
        format_func=cohort_label,
        key=f"{prefix}.cohort",
    )
    if picked != folder:
        choose(picked)
    chosen = cohort(str(picked))
    ids = chosen.case_ids
    case_id = st.session_state.get(CASE)
    case_id = case_id if case_id in ids else ids[0]
    case_id = middle.selectbox("Case", ids, index=ids.index(case_id), key=f"{prefix}.case")
    kinds = list(IMAGES)
    image = st.session_state.get(IMAGE, "mri")
    image = right.radio(
        "Image the model reads",
        kinds,
        index=kinds.index(image) if image in kinds else 0,
        format_func=IMAGES.get,
        horizontal=True,
        key=f"{prefix}.image",
    )
    choose(picked, case_id, image)
    return chosen, case_id, image


def model_line() -> None:
    """The disclaimer and what answers, as on every page with a prediction."""
    predictor = state.explainer().predictor
    st.error(
        f"{DISCLAIMER} Model: {predictor.name} ({state.model_dir().name}/), trained on "
        f"{predictor.card.get('training_data')}. The cases here are synthetic phantoms whose "
        "truth is known: for teaching, never for a patient.",
        icon=":material/warning:",
    )


@st.cache_resource(show_spinner=False, max_entries=64)
def _opened(model: str, folder: str, case_id: str, image: str) -> TeachingCase:
    return open_case(state.explainer(), state.guard(), cohort(folder), case_id, image)


def opened(folder: Path, case_id: str, image: str) -> TeachingCase:
    """The case read, predicted, explained and set beside its truth (once per model, case and
    image on this server).

    Raises:
        OncoPredictError: the case cannot be opened (named)."""
    return _opened(str(state.model_dir()), str(folder), case_id, image)


@st.cache_resource(show_spinner=False, max_entries=64)
def _swept(model: str, folder: str, case_id: str, image: str, name: str) -> Sweep:
    case = opened(Path(folder), case_id, image)
    return sweep(state.explainer(), state.guard(), case, INPUTS_BY_NAME[name])


def swept(folder: Path, case_id: str, image: str, name: str) -> Sweep:
    """The "what if" curve of one input for the case (cached like :func:`opened`)."""
    return _swept(str(state.model_dir()), str(folder), case_id, image, name)


@st.cache_resource(show_spinner=False, max_entries=4)
def _examples_predicted(model: str) -> BatchResult:
    return predict_cohort(model, state.EXAMPLES, image="mri", explainer=state.explainer())


def examples_predicted() -> BatchResult:
    """The session model's answers for the bundled examples (computed once per model: the
    examples folder is part of the app and never written to)."""
    return _examples_predicted(str(state.model_dir()))
