"""The Train page's sections: what to train on (a new phantom cohort or a cohort folder), the
settings, the job (live curves, cancel, resume) and, when it is done, the comparison with the
reference model, the downloads and the switch of this session to the new model."""

from __future__ import annotations

import io
import os
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import streamlit as st

from mmcrnet import OncoPredictError, load_cohort
from mmcrnet.checkpoint import CARD, WEIGHTS
from mmcrnet.datasets import split_rows
from mmcrnet.features import OUTCOMES
from mmcrnet.jobs import Job, cancel_job, list_jobs, read_job, start_job
from mmcrnet.phantom.cohort import generate_cohort
from mmcrnet.train import split_warnings
from mmcrnet.workspace import BUNDLED_MODEL, Workspace, check_name
from ui import evaluation_figures as figures
from ui import state
from ui.tables import table

FOLLOWED = "train.job"  # the training job this session follows
SOURCES = ("A new phantom cohort", "A cohort folder")


@st.cache_data(show_spinner=False)
def _labels(source: str, n: int, seed: int, folder: Path | None, stamp: float) -> list[int] | str:
    """The outcomes the split will see, or why they cannot be had (one line); once per
    setting, not on every rerun (``stamp``: the folder's modification time)."""
    if source == SOURCES[0]:
        return [OUTCOMES.index(o) for o in generate_cohort(n, seed).outcomes["response"]]
    assert folder is not None
    try:
        cohort = load_cohort(folder)
    except OncoPredictError as exc:
        return f"'{folder.name}' cannot be trained on: {exc}"
    assert cohort.outcomes is not None
    return [OUTCOMES.index(o) for o in cohort.outcomes["response"]]


def setup_ui(workspace: Workspace) -> list[str] | None:
    """The data and the settings; returns the ``python -m mmcrnet`` arguments of the job when
    the user starts it (after the size check), else None."""
    st.subheader("1. Data and settings")
    source = st.radio("Train on", SOURCES, horizontal=True, key="train.source")
    folder = None
    left, right = st.columns(2)
    if source == SOURCES[0]:
        n = int(left.number_input("Cases", 60, 20000, 400, step=20, key="train.n"))
        seed = int(right.number_input("Cohort seed", 0, 10**6, 11, key="train.seed"))
        default_name = f"phantom-{n}-seed{seed}"
    else:
        folders = workspace.server_cohorts() + workspace.uploaded_cohorts()
        if not folders:
            st.info("No cohort folders yet: bring one on the Cohorts page.")
            return None
        names = [f.name for f in folders]
        name = left.selectbox("Cohort folder", names, key="train.folder")
        folder = folders[names.index(name)]
        n, seed = 0, int(right.number_input("Split seed", 0, 10**6, 1, key="train.split_seed"))
        default_name = f"{folder.name}-seed{seed}"
    a, b, c = st.columns(3)
    epochs = int(a.number_input("At most epochs", 1, 200, 20, key="train.epochs"))
    minutes = float(b.number_input("At most minutes", 1, 600, 15, key="train.minutes"))
    patience = int(c.number_input("Early-stopping patience", 1, 50, 6, key="train.patience"))
    # the name follows the data until the user writes their own
    if st.session_state.get("train.name") in (None, st.session_state.get("train.name_default")):
        st.session_state["train.name"] = default_name
    st.session_state["train.name_default"] = default_name
    name = st.text_input("Name of the new model", key="train.name")
    stamp = folder.stat().st_mtime if folder is not None else 0.0
    labels = _labels(source, n, seed, folder, stamp)
    if isinstance(labels, str):
        st.error(labels, icon=":material/error:")
        return None
    train_rows, val_rows, _ = split_rows(len(labels), seed)
    try:
        warnings = split_warnings(np.array(labels), train_rows, val_rows)
    except OncoPredictError as exc:
        st.error(f"Cannot train: {exc}", icon=":material/error:")
        return None
    for warning in warnings:
        st.warning(f"Small cohort: {warning}.", icon=":material/warning:")
    if not st.button("Train", type="primary", key="train.start"):
        return None
    try:
        out = workspace.models / check_name(name)
    except OncoPredictError as exc:
        st.error(str(exc), icon=":material/error:")
        return None
    if (out / CARD).is_file():
        st.error(f"A model named '{name}' exists already: choose another name.")
        return None
    args = ["train", "--seed", str(seed), "--out", str(out), "--epochs", str(epochs)]
    args += ["--max-minutes", str(minutes), "--patience", str(patience)]
    # one core stays with the server, so the pages answer while the model trains
    threads = max(1, (os.cpu_count() or 2) - 1)
    args += ["--compare-with", str(BUNDLED_MODEL), "--workers", "1", "--threads", str(threads)]
    if source == SOURCES[0]:
        cache = workspace.work / "cache" / f"phantom-{n}-{seed}"
        args += ["--phantom", str(n), "--cache", str(cache), "--fit-guard", "--guard-held-out"]
        args += ["200"]
    else:
        assert folder is not None
        args += ["--cohort", str(folder)]
    return args


def start_training(workspace: Workspace, args: list[str]) -> None:
    out = Path(args[args.index("--out") + 1])
    job = start_job(workspace.jobs, "train", out.name, args, outputs={"model": str(out)})
    st.session_state[FOLLOWED] = str(job.folder)


def jobs_ui(workspace: Workspace) -> None:
    """The training jobs on this server; the followed (or newest) one in full."""
    jobs = list_jobs(workspace.jobs, "train")
    if not jobs:
        return
    st.subheader("2. Training jobs")
    followed = st.session_state.get(FOLLOWED)
    ids = [j.id for j in jobs]
    current = Path(followed).name if followed and Path(followed).name in ids else ids[0]
    chosen = st.selectbox(
        "Job",
        ids,
        index=ids.index(current),
        format_func=lambda i: f"{jobs[ids.index(i)].title} (started {i[:15]})",
        key="train.job_choice",
    )
    job = jobs[ids.index(chosen)]
    st.caption(f"Status: {job.status}.")
    st.session_state[FOLLOWED] = str(job.folder)
    if job.running:
        st.fragment(_live_fragment, run_every=1.0)(job.folder)
    else:
        ended_ui(workspace, job)


def _progress_text(progress: dict[str, Any], epochs: int) -> tuple[float, str]:
    stage = str(progress.get("stage", "starting"))
    if stage == "reading images":
        done, total = int(progress.get("done", 0)), int(progress.get("total", 0)) or 1
        return done / total, f"Rendering and reading images: {done} of {total}"
    if stage == "training":
        epoch = len(progress.get("history", []))
        batch, batches = int(progress.get("batch", 0)), int(progress.get("batches", 0)) or 1
        share = (epoch + batch / batches) / max(epochs, 1)
        return min(
            share, 1.0
        ), f"Training: epoch {epoch + 1} of at most {epochs}, batch {batch} of {batches}"
    return 1.0 if stage == "done" else 0.0, stage.capitalize()


def _live_fragment(folder: Path) -> None:
    job = read_job(folder)
    if not job.running:
        st.rerun()
    epochs = int(job.args[job.args.index("--epochs") + 1]) if "--epochs" in job.args else 50
    share, text = _progress_text(job.progress, epochs)
    st.progress(share, text=text)
    history = job.progress.get("history", [])
    if history:
        st.plotly_chart(figures.training_figure(history), width="stretch", key=f"live.{job.id}")
        last = history[-1]
        st.caption(
            f"Epoch {last['epoch']}: training loss {last['train_loss']:.3f}, validation loss "
            f"{last['val_loss']:.3f}, validation AUC {last['val_auc']}."
        )
    if st.button("Cancel training", key=f"train.cancel.{job.id}"):
        cancel_job(job)


def ended_ui(workspace: Workspace, job: Job) -> None:
    """A finished job: the curves, the comparison, downloads, the switch; or why it stopped,
    with a Resume button (training continues from its last epoch)."""
    history = job.progress.get("history", [])
    if history:
        st.plotly_chart(figures.training_figure(history), width="stretch", key=f"end.{job.id}")
    if job.status != "done":
        st.error(job.end_line("Training"), icon=":material/error:")
        if job.status in ("cancelled", "lost") and st.button("Resume", key="train.resume"):
            resumed = start_job(
                workspace.jobs, "train", job.title, list(job.args), job.outputs, job_id=job.id
            )
            st.session_state[FOLLOWED] = str(resumed.folder)
            st.rerun()
        return
    folder = Path(job.outputs["model"])
    for warning in job.progress.get("warnings", []):
        st.warning(f"Small cohort: {warning}.", icon=":material/warning:")
    comparison_ui(folder)
    left, right = st.columns(2)
    left.download_button(
        "Download weights and card (zip)",
        _model_zip(folder),
        file_name=f"{folder.name}.zip",
        mime="application/zip",
        key=f"train.download.{job.id}",
    )
    if right.button("Use this model in this session", key=f"train.use.{job.id}"):
        state.use_model(workspace.allowed_model(folder))
        st.success(f"This session now uses {folder.name}/ on every page.")


def comparison_ui(folder: Path) -> None:
    """The new model against the reference on the new model's test split."""
    import json

    path = folder / "comparison.json"
    if not path.is_file():
        st.info("No comparison was made for this model.")
        return
    comparison = json.loads(path.read_text())
    st.markdown("**Compared on the same held-out cases**: " + "; ".join(comparison["notes"]) + ".")
    rows = [
        {
            "model": f"{role}: {m['folder']}",
            "trained on": m["training_data"],
            **{k: m["metrics"][k] for k in ("accuracy", "auc", "f1", "ece")},
        }
        for role, m in comparison["models"].items()
    ]
    table(rows, ("accuracy", "auc", "f1", "ece"))


def _model_zip(folder: Path) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name in (CARD, WEIGHTS, "guard.json", "guard.safetensors", "comparison.json"):
            if (folder / name).is_file():
                archive.write(folder / name, f"{folder.name}/{name}")
    return buffer.getvalue()
