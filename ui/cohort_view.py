"""The Cohorts page's sections: choose a cohort (a zip upload, a folder under the server's data
root, or one uploaded before), see it validated (every problem with file, line and column),
batch-predict it as a background job with its progress, and read the result: counts, metrics
and plots when it has outcomes, the table, the downloads, and a case opened on Predict."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import streamlit as st

from mmcrnet import ClinicalCase, Cohort, InvalidCohort, OncoPredictError, load_cohort, read_paths
from mmcrnet.batch_predict import IMAGE_CHOICES, BatchResult
from mmcrnet.cohort_import import import_cohort
from mmcrnet.io import RawFile
from mmcrnet.jobs import Job, cancel_job, list_jobs, read_job, start_job
from mmcrnet.workspace import Workspace, check_name, unpack_cohort
from ui import evaluation_figures as figures
from ui import state
from ui.case_form import use_case
from ui.images import SOURCE, STUDIES
from ui.tables import problem_rows, table

SOURCES = ("Upload a zip", "On this server", "Import a DICOM tree", "Uploaded before")
CHOSEN = "cohorts.chosen"  # the cohort folder this session looks at
JOB = "cohorts.job"  # the batch job it follows


def choose_cohort_ui(workspace: Workspace) -> Path | None:
    """Where the cohort comes from; returns the chosen folder (kept across reruns)."""
    st.subheader("1. Cohort")
    source = st.radio("Cohort from", SOURCES, horizontal=True, key="cohorts.source")
    if source == "Upload a zip":
        _upload_ui(workspace)
    elif source == "Import a DICOM tree":
        _import_ui(workspace)
    else:
        folders = (
            workspace.server_cohorts()
            if source == "On this server"
            else workspace.uploaded_cohorts()
        )
        if not folders:
            st.info(
                "No data root is configured on this server (ONCOPREDICT_DATA_ROOT): cohorts "
                "too large to upload are placed there by an administrator."
                if source == "On this server" and workspace.data_root is None
                else "No cohort folders here yet."
            )
        else:
            names = [f.name for f in folders]
            current = Path(st.session_state.get(CHOSEN, "")).name
            name = st.selectbox(
                "Cohort folder",
                names,
                index=names.index(current) if current in names else None,
                placeholder="Choose a cohort",
                key=f"cohorts.folder.{source}",
            )
            if name is not None:
                chosen = folders[names.index(name)]
                if st.session_state.get(CHOSEN) != str(chosen):
                    st.session_state[CHOSEN] = str(chosen)
                    st.session_state.pop(JOB, None)
    chosen_path = st.session_state.get(CHOSEN)
    return Path(chosen_path) if chosen_path else None


def _upload_ui(workspace: Workspace) -> None:
    st.caption(
        "A zip of a cohort folder in the OncoPredict cohort format (README): cases.csv, "
        "timepoints.csv, optionally outcomes.csv and images/<case_id>/."
    )
    upload = st.file_uploader("Cohort zip", type=["zip"], key="cohorts.upload")
    if upload is None:
        return
    if st.session_state.get("cohorts.name_for") != upload.file_id:  # a new zip: its own name
        st.session_state["cohorts.name_for"] = upload.file_id
        st.session_state["cohorts.name"] = Path(upload.name).stem.replace(" ", "-")[:64]
    name = st.text_input("Name for this cohort", key="cohorts.name")
    if not st.button("Unpack and check", key="cohorts.unpack"):
        return
    try:
        folder = workspace.uploads / check_name(name)
        left_out = unpack_cohort(RawFile(upload.name, upload.getvalue()), folder)
    except OncoPredictError as exc:
        st.error(f"The cohort was not unpacked: {exc}", icon=":material/error:")
        return
    st.session_state[CHOSEN] = str(folder)
    st.session_state.pop(JOB, None)
    if left_out:
        st.caption("Left out of the zip: " + "; ".join(left_out))


def _import_ui(workspace: Workspace) -> None:
    """A DICOM tree on the server (patient / study / series, as TCIA's downloader writes it)
    with an uploaded clinical table and column mapping, imported into a cohort folder."""
    trees = workspace.server_trees()
    if not trees:
        st.info(
            "No DICOM trees on this server: an administrator places them under the data root "
            "(ONCOPREDICT_DATA_ROOT), one folder per collection with one folder per patient."
        )
        return
    names = [t.name for t in trees]
    tree = st.selectbox("DICOM tree", names, key="cohorts.tree")
    left, right = st.columns(2)
    clinical = left.file_uploader(
        "Clinical table (CSV or XLSX, one row per patient)",
        type=["csv", "xlsx"],
        key="cohorts.clinical",
    )
    mapping = right.file_uploader(
        "Column mapping (JSON)",
        type=["json"],
        key="cohorts.mapping",
        help="Which column is which schema feature and which is the outcome; "
        "python -m mmcrnet cohort import --template prints one to start from.",
    )
    name = st.text_input(
        "Name for the imported cohort", value=f"{tree}-import", key="cohorts.import_name"
    )
    if clinical is None or mapping is None or not st.button("Import", key="cohorts.import"):
        return
    try:
        out = workspace.uploads / check_name(name)
        staging = workspace.work / "staging" / out.name
        staging.mkdir(parents=True, exist_ok=True)
        (staging / Path(clinical.name).name).write_bytes(clinical.getvalue())
        (staging / "mapping.json").write_bytes(mapping.getvalue())
        bar = st.progress(0.0, text="Importing ...")

        def progress(done: int, total: int) -> None:
            bar.progress(done / total, text=f"Importing: patient {done} of {total}")

        result = import_cohort(
            trees[names.index(str(tree))],
            staging / Path(clinical.name).name,
            staging / "mapping.json",
            out,
            progress=progress,
        )
    except InvalidCohort as exc:
        st.error(f"The import found {len(exc.problems)} problem(s); nothing was written.")
        table(problem_rows(exc.problems))
        return
    except OncoPredictError as exc:
        st.error(f"The import failed: {exc}", icon=":material/error:")
        return
    st.session_state[CHOSEN] = str(out)
    st.session_state.pop(JOB, None)
    if result.left_out:
        with st.expander(f"Left out of the import ({len(result.left_out)})"):
            st.markdown("\n".join(f"- {line}" for line in result.left_out))


@dataclass(frozen=True)
class _Check:
    """A cohort folder checked: the cohort and its image counts, or its problems as rows and
    the first one as a line."""

    cohort: Cohort | None
    problems: list[dict[str, object]]
    first: str = ""
    with_mri: int = 0
    with_mammogram: int = 0


@st.cache_data(show_spinner="Checking the cohort ...")
def _validated(folder: str, stamp: float) -> _Check:
    """:class:`_Check` of ``folder``, once per version (``stamp``: the folder's modification
    time, so an edited cohort is checked again)."""
    try:
        cohort = load_cohort(folder, require_outcomes=False)
    except InvalidCohort as exc:
        return _Check(None, problem_rows(exc.problems), str(exc))
    return _Check(
        cohort, [], "", cohort.cases_with_image("mri"), cohort.cases_with_image("mammogram")
    )


def validation_ui(folder: Path) -> Cohort | None:
    """The cohort checked against the schema: its size, images and outcomes, or every
    problem found."""
    st.subheader("2. Check")
    if not folder.is_dir():
        st.error(f"The cohort folder '{folder.name}' is gone.", icon=":material/error:")
        return None
    check = _validated(str(folder), folder.stat().st_mtime)
    cohort = check.cohort
    if cohort is None:
        st.error(
            f"'{folder.name}' does not follow the cohort format: {check.first}",
            icon=":material/error:",
        )
        table(check.problems)
        return None
    ids = cohort.case_ids
    mri, mammogram = check.with_mri, check.with_mammogram
    columns = st.columns(4)
    columns[0].metric("Cases", len(ids))
    columns[1].metric("With a DCE-MRI", mri)
    columns[2].metric("With a mammogram", mammogram)
    outcomes = cohort.outcomes
    columns[3].metric("With an outcome", 0 if outcomes is None else len(outcomes))
    if outcomes is not None:
        counts = outcomes["response"].value_counts().to_dict()
        st.caption("Outcomes: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
    for warning in cohort.warnings:
        st.warning(warning, icon=":material/info:")
    st.success(f"'{folder.name}' follows the cohort format.", icon=":material/check:")
    return cohort


def predict_ui(workspace: Workspace, folder: Path) -> None:
    """Start a batch prediction of the whole cohort as a background job."""
    st.subheader("3. Predict every case")
    explainer = state.explainer()
    st.caption(
        f"With {explainer.predictor.name} ({state.model_dir().name}/), each case read, checked "
        "and predicted as on the Predict page; runs in the background (you may leave the page)."
    )
    left, right = st.columns(2)
    words = {
        "auto": "the MRI, else the mammogram, else none",
        "mri": "MRI only",
        "mammogram": "mammogram only",
        "none": "no image",
    }
    image: str = left.selectbox(
        "Image per case",
        list(IMAGE_CHOICES),
        format_func=lambda choice: words[str(choice)],
        key="cohorts.image",
    )
    explain = right.checkbox(
        "Explain each case (slower)", key="cohorts.explain", help="Reasons in words per case."
    )
    if st.button("Predict every case", type="primary", key="cohorts.start"):
        job_id = time.strftime("%Y%m%d-%H%M%S-") + folder.name[:20]
        out = workspace.jobs / job_id / "predictions.jsonl"
        args = [
            "predict",
            "--model",
            str(state.model_dir()),
            "--cohort",
            str(folder),
            "--out",
            str(out),
            "--image",
            str(image),
        ]
        if explain:
            args.append("--explain")
        job = start_job(
            workspace.jobs,
            "predict",
            f"{folder.name} with {state.model_dir().name}",
            args,
            outputs={"out": str(out)},
            options={"cohort": str(folder), "model": str(state.model_dir())},
            job_id=job_id,
        )
        st.session_state[JOB] = str(job.folder)


def _latest_job(workspace: Workspace, folder: Path) -> Job | None:
    followed = st.session_state.get(JOB)
    if followed and Path(followed).is_dir():
        return read_job(Path(followed))
    # after a reload: the newest batch job of this cohort on the server
    jobs = [
        j for j in list_jobs(workspace.jobs, "predict") if j.options.get("cohort") == str(folder)
    ]
    return jobs[0] if jobs else None


def job_ui(workspace: Workspace, folder: Path) -> None:
    """The cohort's latest batch job: progress while it runs (polled), then its result."""
    job = _latest_job(workspace, folder)
    if job is None:
        return
    if job.running:
        st.fragment(_progress_fragment, run_every=1.0)(job.folder)
    else:
        _ended_ui(job)


def _progress_fragment(folder: Path) -> None:
    job = read_job(folder)
    if not job.running:
        st.rerun()  # the whole page: the result replaces the progress
    done, total = int(job.progress.get("done", 0)), int(job.progress.get("total", 0))
    st.progress(
        done / total if total else 0.0,
        text=f"Predicting {job.title}: {done} of {total or '?'} cases",
    )
    if st.button("Cancel", key=f"cohorts.cancel.{job.id}"):
        cancel_job(job)


def _ended_ui(job: Job) -> None:
    if job.status != "done":
        st.error(job.end_line("The batch prediction"), icon=":material/error:")
        return
    path = Path(job.outputs["out"])
    try:
        result = BatchResult.from_jsonl(path.read_text(), job.progress.get("summary", {}))
    except (OSError, ValueError) as exc:
        st.error(f"The batch result cannot be read: {exc}", icon=":material/error:")
        return
    results_ui(result, job)


def results_ui(result: BatchResult, job: Job) -> None:
    """Counts, metrics and plots (with outcomes), the table, downloads, drill-down."""
    st.subheader("4. Result")
    st.caption(
        f"{result.model} (weights {result.weights_sha256[:12]}), trained on "
        f"{result.training_data}. Research use only, not for clinical decisions."
    )
    counts = result.counts()
    columns = st.columns(4)
    columns[0].metric("Predicted", counts["predicted"])
    columns[1].metric(
        "Flagged by the guard", counts["flagged"], help="inputs the model cannot judge"
    )
    columns[2].metric("Not predicted", counts["not predicted"])
    columns[3].metric("With files left out", sum(bool(r.left_out) for r in result.rows))
    if result.unguarded:
        st.warning(f"No out-of-distribution guard: {result.unguarded}", icon=":material/warning:")
    scores = result.scores()
    if scores is not None:
        st.markdown(
            f"On the **{scores.n}** predicted cases with an outcome (flagged ones left out): "
            f"accuracy **{scores.accuracy:.3f}**, macro AUC "
            + (
                f"**{scores.auc:.3f}**"
                if scores.auc == scores.auc
                else "undefined (an outcome is absent)"
            )
            + f", ECE **{scores.ece:.3f}**."
        )
        curves = result.curves()
        if curves is not None:
            data = curves.to_dict()
            roc, confusion, reliability = st.columns(3)
            roc.plotly_chart(figures.roc_figure(data), width="stretch", key=f"roc.{job.id}")
            confusion.plotly_chart(
                figures.confusion_figure(data), width="stretch", key=f"cm.{job.id}"
            )
            reliability.plotly_chart(
                figures.reliability_figure(data), width="stretch", key=f"rel.{job.id}"
            )
            st.caption(
                "Confusion (rows true, columns predicted pCR / partial / none): "
                + "; ".join(
                    f"{o}: {', '.join(map(str, row))}"
                    for o, row in zip(data["outcomes"], data["confusion"])
                )
            )
    breakdown = result.breakdown()
    if scores is not None and breakdown:
        st.markdown("**By time points, subtype and image input** (judged cases)")
        if any(r["macro AUC"] is not None for r in breakdown):
            st.plotly_chart(
                figures.breakdown_figure(breakdown), width="stretch", key=f"by.{job.id}"
            )
        table(breakdown, ("accuracy", "macro AUC", "ECE"))
    rows = [
        {
            "case": r.case_id,
            "status": r.status,
            "predicted": r.predicted or "",
            "outcome": r.outcome or "",
            **{
                f"P({c})": (r.probabilities[i] if r.probabilities else None)
                for i, c in enumerate(("pCR", "partial", "none"))
            },
            "image": r.image,
            "why": "; ".join(r.flags) or (r.problem or "") or "; ".join(r.left_out),
        }
        for r in result.rows
    ]
    table(rows, (f"P({c})" for c in ("pCR", "partial", "none")))
    left, right = st.columns(2)
    left.download_button(
        "Download CSV", result.to_csv(), file_name=f"{job.id}.csv", mime="text/csv"
    )
    right.download_button(
        "Download JSON lines",
        result.to_jsonl(),
        file_name=f"{job.id}.jsonl",
        mime="application/x-ndjson",
    )
    drill_ui(result, job)


def drill_ui(result: BatchResult, job: Job) -> None:
    """Open one case on the Predict page, with the image the batch used."""
    predicted = [r for r in result.rows if r.problem is None]
    if not predicted:
        return
    case_id = st.selectbox(
        "Open a case on the Predict page",
        [r.case_id for r in predicted],
        index=None,
        placeholder="Choose a case",
        key="cohorts.open",
    )
    if case_id is None or not st.button("Open", key="cohorts.open_button"):
        return
    row = next(r for r in predicted if r.case_id == case_id)
    try:
        cohort = load_cohort(job.options["cohort"], require_outcomes=False)
        use_case(ClinicalCase.from_tables(cohort.cases, cohort.timepoints, case_id))
        studies = st.session_state.setdefault(STUDIES, {})
        if row.image in ("mri", "mammogram"):
            studies["Upload"] = read_paths(cohort.image_paths(case_id, row.image))
            st.session_state[f"{SOURCE}.kept"] = "Upload"
        else:
            studies.pop("Upload", None)
            st.session_state[f"{SOURCE}.kept"] = "No image"
    except OncoPredictError as exc:
        st.error(f"The case cannot be opened: {exc}", icon=":material/error:")
        return
    st.switch_page("pages/predict.py")
