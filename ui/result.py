"""The result part of the Predict page: the prediction, whether the model could judge the case,
and its reasons (maps over the phases it read, attributions, modality contributions, trajectory).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

import numpy as np
import streamlit as st

from mmcrnet import DISCLAIMER, OUTCOMES, ClinicalCase, Study, __version__
from mmcrnet.case import CaseValues
from mmcrnet.explain import Explainer, Explanation
from mmcrnet.guard import GuardReport
from mmcrnet.report import CaseReport, case_report, percent
from ui import figures, state
from ui.names import shown
from ui.viewer import viewer_ui

RESULT, TARGET = "predict.result", "predict.target"
VIEWER_OPEN = "predict.viewer_open"  # the viewer expander, open or closed
#: Below this gap between the two likeliest outcomes the page names both, not one label.
NEAR_TIE = 0.10
CAM_NAMES = {"gradcam": "Grad-CAM", "hirescam": "HiResCAM"}


@dataclass(frozen=True)
class PageResult:
    """A prediction as it was made: the explanation, the inputs it read, the guard's verdict
    and what was left out (so the page never shows one case with another's result)."""

    explanation: Explanation
    case: CaseValues
    study: Study | None
    guard: GuardReport
    left_out: tuple[str, ...]
    token: str = field(default_factory=lambda: uuid.uuid4().hex)  # this prediction, uniquely

    def report(self, case_label: str | None = None) -> CaseReport:
        """The engine's result document of this prediction (the download)."""
        return case_report(
            self.explanation,
            self.case["static"],
            self.case["timepoints"],
            self.study,
            self.guard,
            self.left_out,
            case_label=case_label,
            app_version=__version__,
        )


def headline(probabilities: dict[str, float]) -> str:
    """ "Predicted response: **pCR**", or both outcomes when they are nearly tied."""
    ranked = sorted(OUTCOMES, key=lambda o: -probabilities[o])
    first, second = ranked[0], ranked[1]
    if probabilities[first] - probabilities[second] < NEAR_TIE:
        return (
            f"Uncertain: **{first}** ({percent(probabilities[first])}) or **{second}** "
            f"({percent(probabilities[second])}) are nearly as likely; the model does not "
            f"tell them apart for this case."
        )
    return f"Predicted response: **{first}**"


def form_share(report: GuardReport, time_points: int) -> str:
    """ "6 of 22 baseline values and 3 of 6 values at 2 time points": what the model had, as the
    guard counted it."""
    return (
        f"{report.static_present} of {report.static_possible} baseline values and "
        f"{report.values_present - report.static_present} of "
        f"{report.values_possible - report.static_possible} values at {time_points} time "
        f"point{'s' if time_points != 1 else ''}"
    )


def guard_ui(report: GuardReport, case: CaseValues) -> bool:
    """Say how far the model can judge this case; returns True when the result may be shown."""
    share = report.values_present / report.values_possible if report.values_possible else 0.0
    had = form_share(report, len(case["timepoints"]))
    st.markdown(f"The model had **{had}** of the form ({round(share * 100)} % of its values).")
    if report.tabular_reasons:  # heavy missingness is one of them
        st.warning(
            "The form is outside what the model was trained on: "
            + "; ".join(report.tabular_reasons)
            + ". Read the result with care.",
            icon=":material/warning:",
        )
    if report.image_ok:
        return True
    st.error(
        "The image is outside what the model was trained on, so the model cannot judge "
        "it: " + "; ".join(report.image_reasons) + ". The result is withheld.",
        icon=":material/block:",
    )
    return st.checkbox(
        "Show the withheld result anyway (not a reliable answer)", key="predict.show_withheld"
    )


def result_ui(explainer: Explainer) -> bool:
    """The prediction and its reasons (for the predicted outcome, or another on request);
    False when the result is withheld (the model cannot judge the image)."""
    result: PageResult = st.session_state[RESULT]
    explanation, prediction = result.explanation, result.explanation.prediction
    st.subheader("3. Result")
    st.error(
        f"{DISCLAIMER} Model: {prediction.model}, trained on {prediction.training_data}.",
        icon=":material/warning:",
    )
    if result.left_out:
        lines = [shown(line, result.study) if result.study else line for line in result.left_out]
        st.warning("Not read by the model: " + "; ".join(lines), icon=":material/block:")
    if result.study is not None and result.study.identity_override:
        st.warning(
            "The image files disagree on patient, study or frame of reference; they "
            "were read as one study on your request.",
            icon=":material/warning:",
        )
    if not guard_ui(result.guard, result.case):
        return False
    flagged = not result.guard.ok
    if flagged:
        st.markdown(
            ":orange[:material/warning: **Flagged: not a reliable answer for this case "
            "(see above).**]"
        )
    columns = st.columns(len(OUTCOMES))
    for column, outcome in zip(columns, OUTCOMES):
        column.metric(
            f"P({outcome})" + (" (flagged)" if flagged else ""),
            percent(prediction.probabilities[outcome]),
            border=outcome == prediction.label and not flagged,
        )
    how = (
        "probabilities calibrated on the phantom validation split"
        if not flagged
        else "**not calibrated for a case like this one**: see the warnings above"
    )
    st.markdown(
        f"{headline(prediction.probabilities)} ({how}; {prediction.time_points} time "
        f"point(s), image: {_image_words(explanation)})."
    )
    target = st.selectbox(
        "Explain the outcome",
        OUTCOMES,
        index=OUTCOMES.index(explanation.target),
        key=TARGET,
        format_func=lambda c: f"{c} (predicted)" if c == prediction.label else c,
        help="The reasons below are for this outcome: what pushes the case towards it, and "
        "what pushes it away.",
    )
    if target != explanation.target:
        clinical = ClinicalCase(result.case["static"], result.case["timepoints"])
        explanation = explainer.explain(clinical, result.study, target)
        st.session_state[RESULT] = result = PageResult(
            explanation, result.case, result.study, result.guard, result.left_out
        )
    if explanation.image is not None and result.study is not None:
        maps_ui(explanation, result.study)
        # Built only when opened: its full-resolution chart would cost every Predict a second
        # in the browser.
        viewer = st.expander(
            "Viewer: window/level, zoom and pan, slices, contrast aids",
            key=VIEWER_OPEN,
            on_change="rerun",
        )
        if viewer.open:
            axis = explanation.image.axis_maps.get("gradcam")
            if explanation.image.kind == "mammogram" and not st.session_state.get("predict.mg_map"):
                axis = None  # not reliable yet: only where the user asked to see it anyway
            named = {
                p.index: c for p, c in zip(explanation.image.phases, explanation.image.channels)
            }
            captions = [named.get(i, p.label) for i, p in enumerate(result.study.phases)]
            with viewer:
                viewer_ui(result.study, axis, result.study.slice_index, captions)
    if explanation.sequence is not None:
        reasons_ui(explanation)
    left, right = st.columns(2)
    left.markdown("**What each kind of data contributed** (Shapley values)")
    left.plotly_chart(figures.modalities(explanation), key="predict.modalities")
    right.markdown("**How the prediction changed with each time point**")
    right.plotly_chart(figures.trajectory(explanation), key="predict.trajectory")
    return True


def _image_words(explanation: Explanation) -> str:
    image = explanation.image
    if image is None:
        return "none"
    if image.kind == "mammogram":
        return "mammogram"
    return f"DCE-MRI ({', '.join(image.channels)})"


def maps_ui(explanation: Explanation, study: Study) -> None:
    """The maps over the phases the model read (each labelled from the data)."""
    image = explanation.image
    assert image is not None
    names = {
        "axis": "pCR against no response",
        "target": f"{explanation.target} against the other outcomes",
    }
    shows = st.radio(
        "The map compares",
        list(names),
        format_func=names.get,
        horizontal=True,
        key="predict.map_axis",
        help="pCR against no response: the model's response axis, log P(pCR) - log P(none), "
        "the same for every case. The other: the evidence for the outcome explained below.",
    )
    on_axis = shows == "axis" and bool(image.axis_maps)
    st.markdown(
        "**Where the image pushes towards pCR (red) or towards no response (blue)** "
        f"(on {image.layer})"
        if on_axis
        else f"**Where the image points towards or away from {explanation.target}** "
        f"(on {image.layer})"
    )
    if image.kind == "mammogram":
        measured = state.map_checks().get("mammogram/gradcam", {}).get("pointing_game")
        share = f"{measured * 100:.1f} %" if measured is not None else ""
        figure = (
            f" (the map's strongest point falls on the tumour in {share} of the phantom test cases)"
            if measured is not None
            else ""
        )
        st.warning(
            "Mammogram maps are not reliable yet: they light up background and borders "
            f"more than the tumour{figure}. Do not read where the evidence is from them.",
            icon=":material/warning:",
        )
        if not st.checkbox("Show the unreliable mammogram map anyway", key="predict.mg_map"):
            return
    left, middle, right = st.columns([2, 2, 3], vertical_alignment="bottom")
    opacity = left.slider("Overlay opacity", 0.0, 1.0, 0.5, 0.05, key="predict.opacity")
    method = middle.radio(
        "Map", list(CAM_NAMES), horizontal=True, key="predict.method", format_func=CAM_NAMES.get
    )
    against = on_axis or right.checkbox(
        "Also show evidence against (blue)",
        value=True,
        key="predict.against",
        help="Off: the classic map, only where the image pushes towards the outcome.",
    )
    cam = image.axis_maps[method] if on_axis else image.maps[method]
    indices = [p.index for p in image.phases] or list(range(len(image.channels)))
    columns = st.columns(3)
    for column, caption, index in zip(columns, image.channels, indices):
        pixels = study.phases[index].volume[study.slice_index]
        column.image(
            figures.overlay(pixels, cam, opacity, against), caption=caption, width="stretch"
        )
    if on_axis:
        bar = "strongest towards no response (left) to strongest towards pCR (right)"
    elif against:
        bar = (
            f"strongest evidence away from {explanation.target} (left) to "
            "strongest towards it (right)"
        )
    else:
        bar = f"evidence towards {explanation.target}: none (left) to strongest (right)"
    st.image(figures.colour_bar(against), caption=bar, width=256)
    if on_axis:
        st.caption(
            "Red: the patterns the model detects there push the prediction towards pCR; blue: "
            "towards no response (log P(pCR) - log P(none)), compared with an image in which it "
            "detects none of them. The modality chart below compares with no image at all, so "
            "the two can differ for a case whose image is typical."
        )
        story = explanation.image_story()
        if story:
            st.info(story, icon=":material/compare_arrows:")
        return
    st.caption(
        "Red: the patterns the model detects there push towards the outcome; blue: "
        "away from it, compared with an image in which it detects none. Set the "
        "opacity to 0 to see the image alone. The chart of what each kind of data "
        "contributed (below) compares with having no image at all, so the two can "
        "differ."
    )


def reasons_ui(explanation: Explanation) -> None:
    st.markdown(
        f"**Reasons in the clinical and genomic data** (towards or away from "
        f"{explanation.target}, Integrated Gradients)"
    )
    sequence = explanation.sequence
    assert sequence is not None
    if not np.any(np.abs(sequence.integrated_gradients) > 1e-6):
        given = any(np.any(row != "") for row in np.asarray(sequence.values, dtype=object))
        st.info(
            "No reasons in the form: "
            + (
                "the values given do not move the prediction away from the reference patient's."
                if given
                else "no form values were given."
            ),
            icon=":material/info:",
        )
        return
    st.plotly_chart(figures.top_reasons(explanation), key="predict.reasons")
    st.markdown(
        "**Each value's push at each time point** (red towards, blue away from "
        f"{explanation.target}; baseline values are carried to every time point, so "
        "they can push differently at each)"
    )
    st.plotly_chart(figures.attribution_heatmap(explanation), key="predict.heatmap")
