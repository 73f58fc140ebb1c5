"""The Case and truth page's parts: the images with the true tumour outline and the model's map,
the true tumour in words, the probabilities of the model beside the truth's, and the model's
reasons beside the true contributions. Every chart has its numbers in words or a table."""

from __future__ import annotations

import numpy as np
import streamlit as st
from scipy.ndimage import binary_dilation, distance_transform_edt

from mmcrnet import OUTCOMES
from mmcrnet.explain import feature_label
from mmcrnet.explain.evaluate import DILATION_PX, _disk, axis_map_score
from mmcrnet.features import FEATURES_BY_NAME
from mmcrnet.phantom.images import MG_PIXEL_MM, MRI_PIXEL_MM
from mmcrnet.teach.case import TeachingCase
from mmcrnet.teach.truth import (
    chemosensitivity_sentence,
    property_sentence,
    tumour_properties,
)
from ui import figures, state
from ui import teach_figures as tf
from ui.result import headline, percent
from ui.tables import table


def map_sentence(case: TeachingCase, cam: np.ndarray) -> str:
    """Where the model's map puts its weight, against the true tumour, in words."""
    mask = case.mask
    if mask is None:
        return "The truth has no tumour mask for this image."
    region = binary_dilation(mask, _disk(DILATION_PX))
    score = axis_map_score(cam, region)
    magnitude = np.abs(cam)
    if magnitude.sum() == 0:
        return "The model's map is empty for this case: it detects none of its patterns."
    flat = int(np.argmax(magnitude))
    point = (flat // cam.shape[1], flat % cam.shape[1])
    spacing = MRI_PIXEL_MM if case.image_kind == "mri" else MG_PIXEL_MM
    distance = float(distance_transform_edt(~mask)[point]) * spacing
    where = (
        "falls on the tumour" if score.located else f"lies {distance:.0f} mm from the tumour's edge"
    )
    way = "towards pCR" if score.mass > 0 else "towards no response"
    ratio = score.share / max(float(region.mean()), 1e-9)
    focus = (
        f"{ratio:.1f} times its share of the image"
        if ratio >= 1.5
        else "no more than its share of the image: the map is not focused on the tumour"
    )
    return (
        f"The map's strongest point {where}. {score.share:.0%} of the map's weight lies on the "
        f"tumour (with a {DILATION_PX}-pixel margin), which covers {region.mean():.0%} of the "
        f"image: {focus}. On the tumour the map leans {way}."
    ).replace("%", " %")


def images_ui(case: TeachingCase) -> None:
    """The phases (or the mammogram) with the true outline and the model's response-axis map."""
    st.subheader("The images, the true tumour and the model's map")
    image = case.explanation.image
    left, middle, right = st.columns([2, 2, 2], vertical_alignment="bottom")
    show_outline = left.checkbox("True tumour outline (yellow)", True, key="truth.outline")
    show_map = middle.checkbox("The model's map", True, key="truth.map")
    opacity = right.slider("Map opacity", 0.0, 1.0, 0.5, 0.05, key="truth.opacity")
    if case.image_kind == "mammogram" and show_map:
        measured = state.map_checks().get("mammogram/gradcam", {}).get("pointing_game")
        figure = (
            f" (its strongest point is on the tumour in {measured * 100:.0f} % of test cases)"
            if measured is not None
            else ""
        )
        st.warning(
            "Mammogram maps are not reliable yet"
            + figure
            + ": compare them with the true outline to see how.",
            icon=":material/warning:",
        )
    study = case.study
    cam = image.axis_maps["gradcam"] if image is not None and image.axis_maps else None
    indices = [p.index for p in image.phases] if image is not None and image.phases else []
    indices = indices or list(range(len(study.phases)))
    captions = list(image.channels) if image is not None else [p.label for p in study.phases]
    columns = st.columns(3)
    for column, caption, index in zip(columns, captions, indices):
        pixels = study.phases[index].volume[study.slice_index]
        if show_map and cam is not None:
            picture = figures.overlay(pixels, cam, opacity, against=True)
        else:
            picture = tf.gray(pixels)
        if show_outline and case.mask is not None:
            picture = tf.outline(picture, case.mask)
        column.image(picture, caption=caption, width="stretch")
    if show_map and cam is not None:
        st.image(
            figures.colour_bar(True),
            caption="strongest towards no response (left) to strongest towards pCR (right)",
            width=256,
        )
        st.markdown(map_sentence(case, cam))
        st.caption(
            "The map is Grad-CAM on the response axis, log P(pCR) - log P(none): red where the "
            "patterns the model detects push towards pCR, blue towards no response. The yellow "
            "line is the tumour the phantom drew."
        )


def tumour_ui(case: TeachingCase) -> None:
    st.subheader("The true tumour")
    for item in tumour_properties(case.truth):
        st.markdown(f"- {property_sentence(item)}")
    st.markdown(f"- {chemosensitivity_sentence(case.truth)}")


def probabilities_ui(case: TeachingCase) -> None:
    """The model's probabilities beside the ideal observer's and the oracle's."""
    st.subheader("The answer and the truth")
    prediction = case.explanation.prediction
    truth = case.truth
    if case.guard.ok:
        verdict = "right" if case.right else "wrong"
        flagged = ""
    else:
        verdict = "flagged, not scored"
        flagged = (
            " The model flags this case: it cannot judge it, so its answer is not a reliable one."
        )
    st.markdown(
        f"True outcome: **{truth.outcome}**. The model's most likely outcome: "
        f"**{prediction.label}** ({verdict}).{flagged} {headline(prediction.probabilities)}"
    )
    if not case.guard.ok:
        st.warning(
            "; ".join(case.guard.image_reasons + case.guard.tabular_reasons),
            icon=":material/warning:",
        )
    left, right = st.columns([3, 2])
    left.plotly_chart(
        tf.probability_chart(prediction.probabilities, case.ideal, truth.oracle),
        key="truth.probabilities",
    )
    rows = []
    for outcome in OUTCOMES:
        rows.append(
            {
                "outcome": outcome,
                "model": percent(prediction.probabilities[outcome]),
                "ideal": percent(case.ideal[outcome]) if case.ideal else "impossible",
                "oracle": percent(truth.oracle[outcome]),
            }
        )
    with right:
        table(rows)
        st.caption(
            "Ideal observer: the true model, this tumour and every value the case shows, but "
            "not the unexplained chemosensitivity u, which it infers from the follow-up "
            "values; the fair target for a model. Oracle: knows u too; the physical limit."
        )


def follow_up_rows(case: TeachingCase) -> list[dict[str, object]]:
    """The model's response-axis attribution of each follow-up value (after week 0)."""
    sequence = case.explanation.sequence
    if sequence is None:
        return []
    rows: list[dict[str, object]] = []
    for t in range(1, min(len(sequence.time_points), case.table.shape[0])):
        for j, name in enumerate(sequence.features):
            if name == "subtype" or FEATURES_BY_NAME[name].timing != "dynamic":
                continue
            rows.append(
                {
                    "value": f"{feature_label(name)} at week {sequence.weeks[t]:g}",
                    "case": sequence.values[t][j] if sequence.values else "",
                    "model (log-odds)": round(float(case.table[t, j]), 3),
                    "truth": "no term",
                }
            )
    return rows


def reasons_ui(case: TeachingCase) -> None:
    """The model's attributions beside the true contributions, with the disagreements."""
    st.subheader("The model's reasons beside the truth's")
    agreement = case.agreement
    st.markdown(agreement.summary)
    st.plotly_chart(
        tf.agreement_chart(agreement), key="truth.agreement", config={"displayModeBar": False}
    )
    st.caption(
        "Each bar is the feature's share of the whole push (signed: towards pCR to the right). "
        "The model's: Integrated Gradients on log P(pCR) - log P(none) from the reference "
        "patient; the truth's: the feature's terms in the true response model minus their "
        "cohort mean (cohort-spec section 3). Baseline features in the truth's order; those "
        "under 1 % on both sides are only in the table below."
    )
    if agreement.sentences:
        st.markdown("**Where they disagree, and why**")
        for sentence in agreement.sentences:
            st.markdown(f"- {sentence}")
    st.markdown("**The image and the follow-up values**")
    st.markdown(f"- {agreement.image}")
    st.markdown(f"- {agreement.follow_up}")
    with st.expander("The numbers (text equivalent of the chart)"):
        table(
            [
                {
                    "feature": r.label,
                    "value": r.value,
                    "truth share": round(r.truth_share, 3),
                    "model share": round(r.model_share, 3),
                    "truth (eta units)": round(r.truth, 3),
                    "model (log-odds)": round(r.model, 3),
                }
                for r in agreement.rows
            ]
        )
        st.markdown(
            "**Follow-up values** (no term in the truth: they are driven by the response, so "
            "they carry the hidden chemosensitivity u rather than cause anything)"
        )
        table(follow_up_rows(case))
