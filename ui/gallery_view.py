"""The Gallery page's parts: generate a phantom cohort (a background job with progress), the
filters, and the cases as cards (images, subtype, the true outcome, the model's answer)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import streamlit as st

from mmcrnet import OUTCOMES, SUBTYPES, OncoPredictError, read_paths
from mmcrnet.batch_predict import BatchResult
from mmcrnet.jobs import cancel_job, list_jobs, read_job, start_job
from mmcrnet.teach.gallery import (
    CORRECTNESS,
    MAX_CASES,
    Card,
    folder_name,
    load_predictions,
    select,
)
from mmcrnet.workspace import Workspace
from ui import state, teach_state
from ui.result import NEAR_TIE
from ui.teach_figures import gray

PER_PAGE = 12
COLUMNS = 3
FOLLOWED = "gallery.job"
VERDICTS = {"right": "right", "wrong": "wrong", "not judged": "not judged (flagged or not read)"}


def generate_ui(workspace: Workspace) -> None:
    """Generate a phantom cohort of n cases with a seed, as a background job."""
    with st.expander("Generate a phantom cohort", expanded=False):
        st.caption(
            "Cases drawn from the phantom world (shared/cohort-spec.md) with their images and "
            "truth; the session's model then answers every case. About 0.4 s a case on 2 CPU "
            "cores."
        )
        left, right, button = st.columns([2, 2, 1], vertical_alignment="bottom")
        n = int(left.number_input("Cases", 1, MAX_CASES, 60, key="gallery.n"))
        seed = int(right.number_input("Seed", 0, 2**31 - 1, 1, key="gallery.seed"))
        if button.button("Generate", key="gallery.generate"):
            out = teach_state.teaching_root(workspace) / folder_name(n, seed)
            running = [
                j
                for j in list_jobs(workspace.jobs, "teach")
                if j.running and j.outputs.get("cohort") == str(out)
            ]
            if running:  # pressed twice, or by another session: follow that one
                st.session_state[FOLLOWED] = str(running[0].folder)
            elif (out / "cohort.json").is_file():
                st.info(
                    "That cohort is already here: choose it under Phantom cohort.",
                    icon=":material/info:",
                )
            else:
                job = start_job(
                    workspace.jobs,
                    "teach",
                    f"{n} phantom cases, seed {seed}",
                    [
                        "teach",
                        "prepare",
                        "--n",
                        str(n),
                        "--seed",
                        str(seed),
                        "--out",
                        str(out),
                        "--model",
                        str(state.model_dir()),
                    ],
                    outputs={"cohort": str(out)},
                )
                st.session_state[FOLLOWED] = str(job.folder)
    followed = st.session_state.get(FOLLOWED)
    if followed:
        job = read_job(Path(followed))
        if job.running:
            st.fragment(_progress_fragment, run_every=1.0)(job.folder)
        elif job.status == "done":
            st.success(
                f"Generated: {job.title}. It is in the Phantom cohort list.",
                icon=":material/check:",
            )
        else:
            st.error(job.end_line("Generating the cohort"), icon=":material/error:")


def _progress_fragment(folder: Path) -> None:
    job = read_job(folder)
    if not job.running:
        st.rerun()
    progress: dict[str, Any] = job.progress
    done, total = int(progress.get("done", 0)), int(progress.get("total", 0)) or 1
    stage = str(progress.get("stage", "starting"))
    st.progress(min(done / total, 1.0), text=f"{job.title}: {stage}, {done} of {total}")
    if st.button("Cancel", key=f"gallery.cancel.{job.id}"):
        cancel_job(job)


def answer_ui(workspace: Workspace, folder: Path) -> None:
    """A cohort the session's model has not answered: say so, and let it answer (a job)."""
    running = [
        j
        for j in list_jobs(workspace.jobs, "teach")
        if j.running and j.outputs.get("cohort") == str(folder)
    ]
    if running:
        st.session_state[FOLLOWED] = str(running[0].folder)
        return
    left, right = st.columns([3, 1], vertical_alignment="center")
    left.warning(
        "The session's model has not answered this cohort yet (it was generated with another "
        "model): the cards show no answer.",
        icon=":material/info:",
    )
    if right.button("Let this model answer", key="gallery.answer"):
        job = start_job(
            workspace.jobs,
            "teach",
            f"answers for {folder.name}",
            ["teach", "predict", "--cohort", str(folder), "--model", str(state.model_dir())],
            outputs={"cohort": str(folder)},
        )
        st.session_state[FOLLOWED] = str(job.folder)
        st.rerun()


def batch_for(folder: Path) -> BatchResult | None:
    """The session model's answers for a teaching cohort (None when it has not answered)."""
    if folder == state.EXAMPLES:
        with st.spinner("The model answers the 12 examples ..."):
            return teach_state.examples_predicted()
    sha = str(state.explainer().predictor.card["weights"]["sha256"])
    try:
        return load_predictions(folder, sha)
    except (ValueError, OSError) as exc:
        st.warning(f"The kept answers cannot be read ({exc}).", icon=":material/warning:")
        return None


def filters_ui(items: list[Card]) -> list[Card]:
    left, middle, right = st.columns([2, 2, 3])
    subtypes = left.multiselect("Subtype", SUBTYPES, key="gallery.subtypes", placeholder="all")
    outcomes = middle.multiselect(
        "True outcome", OUTCOMES, key="gallery.outcomes", placeholder="all"
    )
    verdict = right.radio(
        "The model was",
        CORRECTNESS,
        horizontal=True,
        key="gallery.verdict",
        format_func=lambda c: "any" if c == "any" else VERDICTS[c],
    )
    return select(items, subtypes, outcomes, verdict)


@st.cache_data(show_spinner=False, max_entries=512)
def thumbnail(folder: str, case_id: str) -> np.ndarray | None:
    """The case's early DCE phase beside its mammogram, (H, 2W, 3) uint8."""
    chosen = teach_state.cohort(folder)
    pictures = []
    for kind, phase in (("mri", 1), ("mammogram", 0)):
        paths = chosen.image_paths(case_id, kind)
        if not paths:
            continue
        try:
            study = read_paths(paths, isolate=False)  # our own phantom files
        except OncoPredictError:
            continue
        index = min(phase, len(study.phases) - 1)
        pictures.append(gray(study.phases[index].volume[study.slice_index]))
    if not pictures:
        return None
    height = min(p.shape[0] for p in pictures)
    return np.concatenate([p[:height] for p in pictures], axis=1)


def _caption(card: Card) -> str:
    truth = f"truth **{card.outcome}**"
    if card.predicted is None:
        return f"{card.subtype} · {truth} · the model did not answer"
    if card.status == "flagged":
        return (
            f":orange[:material/warning: flagged, not judged] · {card.subtype} · {truth} "
            f"(the model would say {card.predicted})"
        )
    mark = ":green[right]" if card.right else ":red[wrong]"
    tie = ""
    if card.probabilities is not None:
        ranked = sorted(card.probabilities, reverse=True)
        tie = " · a near tie" if ranked[0] - ranked[1] < NEAR_TIE else ""
    return f"{card.subtype} · {truth} · model **{card.predicted}** ({mark}){tie}"


def cards_ui(folder: Path, shown: list[Card]) -> None:
    """The cards, :data:`PER_PAGE` at a time; Open and What if carry the case over."""
    if not shown:
        st.info("No case passes these filters.", icon=":material/filter_alt_off:")
        return
    pages = (len(shown) - 1) // PER_PAGE + 1
    page = 1
    if pages > 1:
        page = int(
            st.number_input(f"Page (of {pages})", 1, pages, 1, key=f"gallery.page.{folder.name}")
        )
    chunk = shown[(page - 1) * PER_PAGE : page * PER_PAGE]
    for start in range(0, len(chunk), COLUMNS):
        columns = st.columns(COLUMNS)
        for column, card in zip(columns, chunk[start : start + COLUMNS]):
            with column.container(border=True):
                st.markdown(f"**{card.case_id}**")
                picture = thumbnail(str(folder), card.case_id)
                if picture is not None:
                    st.image(
                        picture,
                        caption=f"{card.case_id}: early DCE phase and mammogram",
                        width="stretch",
                    )
                st.markdown(_caption(card))
                left, right = st.columns(2)
                if left.button(
                    "Open",
                    key=f"gallery.open.{card.case_id}",
                    width="stretch",
                    help=f"Open {card.case_id} with its truth",
                ):
                    teach_state.choose(folder, card.case_id)
                    st.switch_page("pages/case_truth.py")
                if right.button(
                    "What if",
                    key=f"gallery.whatif.{card.case_id}",
                    width="stretch",
                    help=f'"What if" for {card.case_id}',
                ):
                    teach_state.choose(folder, card.case_id)
                    st.switch_page("pages/what_if.py")
