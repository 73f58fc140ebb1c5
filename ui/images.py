"""The images part of the Predict page: a bundled example, an upload or no image, and what the
model will read of it (phases with their labels and times, the slice, files left out).

Reading and preprocessing are the engine's (:mod:`mmcrnet.io`, :mod:`mmcrnet.preprocess`);
this module only keeps the user's choices in the session and draws them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import streamlit as st

from mmcrnet import (
    ClinicalCase,
    ModelImage,
    OncoPredictError,
    RawFile,
    Study,
    model_image,
    read_paths,
    read_study,
)
from mmcrnet.errors import ImageTooLarge, MixedIdentity, MixedSeries, UnsupportedImage
from mmcrnet.guard import header_checks
from ui import state
from ui.names import shown, shown_name

SOURCES = ("Bundled example", "Upload", "No image")
SAVED = "Saved visit"  # offered once a visit of a saved case is loaded (the Cases page)
EXAMPLE_IMAGES = {"mri": "DCE-MRI", "mammogram": "mammogram"}
#: Session keys (plain values, kept when the user visits another page).
SOURCE, EXAMPLE, EXAMPLE_IMAGE = "predict.source", "predict.example", "predict.example_image"
STUDIES = "predict.studies"  # source -> the Study read for it (before the user's phase times)
UPLOAD_READ = "predict.upload_read"  # what was read last: (signature, study or None, error)
PHASE_TIMES = "predict.phase_times"  # label -> seconds, given by the user for unordered images
LOADED = "predict.loaded_example"
SKIP, MIXED = "predict.skip_unreadable", "predict.allow_mixed"  # reading options


@dataclass(frozen=True)
class ImageChoice:
    """What the images part hands to Predict.

    Attributes:
        source: one of :data:`SOURCES`.
        study: the study the model will read (phase times applied), or None.
        model_input: the model's view of it (phases, slice, geometry), or None.
        problem: why there is no usable image although the user gave one (a rejected upload,
            phases without an order, an image the model cannot read); None otherwise.
    """

    source: str
    study: Study | None
    model_input: ModelImage | None
    problem: str | None


def keep(key: str, default: object) -> None:
    """Give widget ``key`` its last value back after a visit to another page (Streamlit drops
    widget state then, issue 5813): the value is mirrored under ``key + ".kept"``."""
    if key not in st.session_state:
        st.session_state[key] = st.session_state.get(f"{key}.kept", default)


def remember(key: str) -> None:
    st.session_state[f"{key}.kept"] = st.session_state.get(key)


def load_example(use_case: Callable[[ClinicalCase], None]) -> None:
    """Choosing an example is loading it: its form values and its image, together."""
    case_id = st.session_state.get(EXAMPLE)
    remember(EXAMPLE)
    remember(EXAMPLE_IMAGE)
    if case_id is None:
        return
    cohort = state.examples()
    if st.session_state.get(LOADED) != case_id:
        use_case(ClinicalCase.from_tables(cohort.cases, cohort.timepoints, case_id))
    kind = st.session_state.get(EXAMPLE_IMAGE) or "mri"
    st.session_state.setdefault(STUDIES, {})["Bundled example"] = read_paths(
        cohort.image_paths(case_id, kind),
        isolate=False,  # our own files, not an upload
    )
    st.session_state[LOADED] = case_id


def images_ui(use_case: Callable[[ClinicalCase], None]) -> ImageChoice:
    """Choose the images; show what was read and what the model will read of it."""
    st.subheader("1. Images")
    keep(SOURCE, SOURCES[0])
    saved = st.session_state.get(STUDIES, {}).get(SAVED)
    sources = SOURCES + ((SAVED,) if saved is not None else ())
    if st.session_state.get(SOURCE) not in sources:
        st.session_state[SOURCE] = SOURCES[0]
    source = st.radio(
        "Images from", sources, horizontal=True, key=SOURCE, on_change=remember, args=(SOURCE,)
    )
    study: Study | None = None
    problem: str | None = None
    if source == "Bundled example":
        keep(EXAMPLE, st.session_state.get(LOADED))
        keep(EXAMPLE_IMAGE, "mri")
        cohort = state.examples()
        left, right = st.columns([3, 2])
        left.selectbox(
            "Example case (phantom, truth known)",
            cohort.case_ids,
            key=EXAMPLE,
            index=None,
            placeholder="Choose an example case to load it",
            on_change=load_example,
            args=(use_case,),
        )
        right.radio(
            "Example image",
            list(EXAMPLE_IMAGES),
            key=EXAMPLE_IMAGE,
            horizontal=True,
            format_func=EXAMPLE_IMAGES.get,
            on_change=load_example,
            args=(use_case,),
        )
        study = st.session_state.get(STUDIES, {}).get(source)
    elif source == "Upload":
        study, problem = upload_ui()
    elif source == SAVED:
        study = saved
        st.caption("The image of the saved visit, as the model read it then (kept as pixels only).")
    if study is not None:
        study = phases_ui(study)
    if study is None:
        return ImageChoice(source, None, None, problem)
    study = slice_ui(study)
    try:
        read = model_image(study)
    except UnsupportedImage as exc:
        st.error(f"The model cannot read this image: {exc}", icon=":material/error:")
        return ImageChoice(source, study, None, str(exc))
    model_input_ui(study, read)
    outside = header_checks(study)
    if outside:
        st.warning(
            "Outside what the model was trained on (the result will be withheld): "
            + "; ".join(outside)
            + ".",
            icon=":material/warning:",
        )
    return ImageChoice(source, study, read, None)


def upload_ui() -> tuple[Study | None, str | None]:
    """The upload, read once per set of files and options; returns (study, problem)."""
    kind = st.radio(
        "PNG/JPEG images are",
        ["DCE-MRI phases (MR)", "a mammogram (MG)"],
        horizontal=True,
        key="predict.raster_modality",
        help="DICOM files carry their own modality.",
    )
    back_from_a_page = "predict.upload" not in st.session_state  # the uploader forgot its files
    uploads = st.file_uploader(
        "DICOM files of one series, a zip, a multi-frame DICOM, or PNG/JPEG images",
        accept_multiple_files=True,
        key="predict.upload",
    )
    skip = bool(st.session_state.get(f"{SKIP}.kept"))
    mixed = bool(st.session_state.get(f"{MIXED}.kept"))
    if not uploads:
        kept = st.session_state.get(STUDIES, {}).get("Upload")
        if kept is not None and back_from_a_page:
            st.caption(
                "Using the files uploaded before: "
                + ", ".join(shown_name(s) for s in kept.sources)
                + " (upload again to replace them)."
            )
            return kept, None
        st.session_state.get(STUDIES, {}).pop("Upload", None)
        return None, None
    signature = (tuple(u.file_id for u in uploads), kind, skip, mixed)
    last = st.session_state.get(UPLOAD_READ)
    if last is None or last[0] != signature:
        st.session_state.pop(PHASE_TIMES, None)
        for key in [k for k in st.session_state if str(k).startswith("predict.phase_time.")]:
            del st.session_state[key]
        try:
            study = read_study(
                [RawFile(u.name, u.getvalue()) for u in uploads],
                modality="MR" if kind.startswith("DCE") else "MG",
                skip_unreadable=skip,
                allow_mixed_ids=mixed,
            )
            last = (signature, study, None, None)
        except OncoPredictError as exc:
            last = (signature, None, str(exc), type(exc))
        st.session_state[UPLOAD_READ] = last
        st.session_state.setdefault(STUDIES, {})["Upload"] = last[1]
    _, read, error, error_type = last
    if error is not None:
        st.error(f"The upload was not read: {error}", icon=":material/error:")
    identity = error_type is not None and issubclass(error_type, MixedIdentity)
    unreadable = (
        error_type is not None
        and len(uploads) > 1
        and not issubclass(error_type, (MixedSeries, ImageTooLarge))
    )
    _option(
        "These files are one patient's study although their IDs differ (e.g. anonymised "
        "one by one): read them anyway (the result will say so)",
        MIXED,
        identity,
    )
    _option("Leave out the files that cannot be read and use the rest", SKIP, unreadable)
    if error is not None:
        return None, f"the upload was not read ({error})"
    return read, None


def _option(label: str, key: str, offered: bool) -> None:
    """A reading option, shown while it is offered or on (so it can be turned off again);
    its value is kept outside the widget, which Streamlit forgets when it is not drawn."""
    if offered or st.session_state.get(f"{key}.kept"):
        keep(key, False)
        st.checkbox(label, key=key, on_change=remember, args=(key,))


def phases_ui(study: Study) -> Study | None:
    """PNG/JPEG phases whose order the files do not say: the user gives each its time."""
    if study.kind != "mri" or study.phase_source != "unassigned":
        return study
    st.warning(
        "The file names do not say which image is which phase (pre-contrast, early, "
        "late), and the order of upload never decides. Give each image its time after "
        "the contrast injection.",
        icon=":material/schedule:",
    )
    given = dict(st.session_state.get(PHASE_TIMES, {}))
    columns = st.columns(len(study.phases))
    for column, phase, pixels in zip(columns, study.phases, study.image):
        column.image(np.clip(pixels, 0, 1), caption=phase.label, width="stretch")
        key = f"predict.phase_time.{phase.label}"
        if key not in st.session_state:  # first time, or back from another page
            st.session_state[key] = given.get(phase.label)
        given[phase.label] = column.number_input(
            f"Seconds after contrast: {phase.label}",
            value=None,
            step=1.0,
            placeholder="0 = pre-contrast",
            key=key,
            help="0 for the pre-contrast image; the usual early phase is about 90 s, the late "
            "one about 360 s.",
        )
    st.session_state[PHASE_TIMES] = given
    if any(given.get(p.label) is None for p in study.phases):
        return study  # still unassigned: the model input refuses it with one line
    try:
        return study.assign_phases(
            {
                label: float(t)
                for label, t in given.items()
                if label in {p.label for p in study.phases}
            }
        )
    except ValueError as exc:
        st.error(f"Phase times: {exc}", icon=":material/error:")
        return study


def slice_ui(study: Study) -> Study:
    """What was read, and the slice (a slider when there are several)."""
    phases = ", ".join(
        p.label
        + (
            f" ({p.time_s:g} s)"
            if p.time_s is not None and f"{p.time_s:g} s" not in p.label
            else ""
        )
        for p in study.phases
    )
    st.caption(
        f"Read: {study.modality} ({study.kind}), {len(study.phases)} phase(s): {phases}; "
        f"{study.image.shape[-2]} x {study.image.shape[-1]} pixels"
        + (f", {study.pixel_spacing_mm[0]:.2f} mm" if study.pixel_spacing_mm else "")
        + f"; from {len(study.sources)} file(s)."
    )
    if study.identity_override:
        st.warning(
            "Read on your request although the files disagree on patient, study or "
            "frame of reference.",
            icon=":material/warning:",
        )
    if study.left_out:
        st.warning(
            "Left out: " + "; ".join(shown(line, study) for line in study.left_out),
            icon=":material/block:",
        )
    for warning in study.warnings:
        if not warning.startswith("skipped "):  # those are in the left-out line
            st.caption(f":material/info: {shown(warning, study)}")
    slices = study.shape[1]
    if slices > 1:
        key = "predict.slice"
        if st.session_state.get(key) is not None and st.session_state[key] >= slices:
            del st.session_state[key]
        chosen = st.slider("Slice", 0, slices - 1, study.slice_index, key=key)
        if chosen != study.slice_index:
            study = study.with_slice(chosen)
    return study


def model_input_ui(study: Study, read: ModelImage) -> None:
    """The phases the model will read, with their roles, labels and times."""
    st.markdown(
        f"**What the model will read**: slice {read.slice_index + 1} of "
        f"{study.shape[1]}, "
        + ", ".join(p.caption for p in read.phases)
        + f"; intensities {read.window[0]:g} to {read.window[1]:g} shown as black "
        f"to white; padded to a square and resized to {read.geometry.size} x "
        f"{read.geometry.size}."
    )
    with st.container(border=True):  # keeps the images' toolbar off the line above
        columns = st.columns(max(3, len(read.phases)))
        for column, phase in zip(columns, read.phases):
            files = study.phases[phase.index].sources
            caption = phase.caption + (f" ({shown_name(files[0])})" if len(files) == 1 else "")
            column.image(np.clip(study.image[phase.index], 0, 1), caption=caption, width="stretch")
