"""Predict: upload a case (or pick a bundled example), get the predicted response to
neoadjuvant chemotherapy with its reasons.

    images (ui.images) + form (ui.case_form) -> checks -> prepare -> guard -> explain
    -> result (ui.result) -> keep (ui.case_record) -> DICOM and PACS (ui.exchange_view)

Predict runs only on what the page shows: a bad value, a rejected upload or an image whose
phases are not known stop it with their reason, and the result says what was left out.
"""

from __future__ import annotations

import hashlib

import streamlit as st

from mmcrnet import DISCLAIMER, OncoPredictError, Study
from ui import state
from ui.case_form import FormResult, form_ui, use_case
from ui.case_record import record_ui
from ui.errors import bug_box
from ui.exchange_view import exchange_ui
from ui.images import ImageChoice, images_ui
from ui.result import RESULT, TARGET, PageResult, result_ui

WITHOUT_IMAGE = "predict.without_image"


def refusal(images: ImageChoice, form: FormResult) -> str | None:
    """Why Predict cannot run on what the page shows, in one line; None when it can."""
    if form.problems:
        count = len(form.problems)
        return (
            f"{count} value{'s are' if count > 1 else ' is'} not valid; each is marked in "
            "red under its field."
        )
    if images.problem is not None and not st.session_state.get(WITHOUT_IMAGE):
        return (
            "the image cannot be used (the reason is shown with the images above). Fix "
            'the images, or tick "Predict without the image" to go on without one.'
        )
    if images.study is None and form.empty:
        return (
            "there is nothing to predict from: choose an example, upload images or fill "
            "in the form."
        )
    return None


def _fingerprint(study: Study | None) -> tuple[object, ...] | None:
    if study is None:
        return None
    return (
        study.slice_index,
        study.shape,
        tuple((p.label, p.time_s) for p in study.phases),
        hashlib.sha1(study.image.tobytes()).hexdigest(),
    )  # the pixels, not the file names


def shows_the_same_images(result: PageResult, images: ImageChoice) -> bool:
    """Whether the page still shows the images the result was predicted on."""
    current = images.study if images.model_input is not None else None
    return _fingerprint(result.study) == _fingerprint(current)


def predict(images: ImageChoice, form: FormResult) -> None:
    """Prepare, guard and explain the case as shown; one line naming the problem otherwise."""
    st.session_state.pop(RESULT, None)
    st.session_state.pop(TARGET, None)  # a new prediction is explained for its own outcome
    reason = refusal(images, form)
    if reason is not None:
        st.error(f"Cannot predict: {reason}", icon=":material/error:")
        return
    explainer = state.explainer()
    study = images.study if images.model_input is not None else None
    left_out = list(images.study.left_out) if images.study is not None else []
    if images.problem is not None:
        left_out.append(f"the image ({images.problem}); predicted without it on your request")
    try:
        with st.spinner("Predicting and explaining ..."):
            clinical = form.clinical
            prepared = explainer.predictor.prepare(clinical, study)
            report = state.guard().check(study, prepared, clinical, explainer.predictor.model)
            explanation = explainer.explain(clinical, study, prepared=prepared)
    except OncoPredictError as exc:
        st.error(f"Cannot predict: {exc}", icon=":material/error:")
        return
    st.session_state[RESULT] = PageResult(explanation, form.case, study, report, tuple(left_out))


def page() -> None:
    """The user's path: images, the form, Predict, the result."""
    st.title("Predict the response to neoadjuvant chemotherapy")
    try:
        model = state.explainer()
    except OncoPredictError as exc:
        st.error(DISCLAIMER, icon=":material/warning:")
        st.error(f"The model could not be loaded: {exc}", icon=":material/error:")
        st.stop()
    try:
        state.guard()
    except OncoPredictError as exc:
        st.error(DISCLAIMER, icon=":material/warning:")
        st.error(
            f"The model this session uses ({state.model_dir().name}/) has no usable "
            f"out-of-distribution guard ({exc}), so this page could not say when an input is "
            "one it cannot judge, and shows no answer. Choose another model on the Model page, "
            "or fit its guard: python -m mmcrnet guard fit --model DIR.",
            icon=":material/error:",
        )
        st.stop()
    st.error(
        f"{DISCLAIMER} Model: {model.predictor.name} ({state.model_dir().name}/), trained on "
        f"{model.predictor.card.get('training_data')}.",
        icon=":material/warning:",
    )
    chosen = images_ui(use_case)
    if chosen.problem is not None:
        st.checkbox(
            "Predict without the image",
            key=WITHOUT_IMAGE,
            help="The model then reads only the form; the result says the image was left out.",
        )
    form = form_ui(chosen.study.patient_id if chosen.study is not None else None)
    if form.submitted:
        predict(chosen, form)
    elif RESULT in st.session_state and not shows_the_same_images(st.session_state[RESULT], chosen):
        del st.session_state[RESULT]
        st.info(
            "The images changed since the last prediction: press Predict for this case.",
            icon=":material/info:",
        )
    if RESULT in st.session_state and result_ui(model):
        record_ui()
        exchange_ui()


with bug_box():  # a bug of ours: an error id here, the traceback in the server log
    page()
