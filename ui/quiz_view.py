"""The Quiz page's parts: a round (the case without its answer, the learner's response and
point), the reveal (the truth, the model's answer and map, both marked) and the running score.

The point is set by clicking the image or, from the keyboard, with two sliders; a click moves
the sliders, so both always show the same point."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from pathlib import Path

import streamlit as st

from mmcrnet import OUTCOMES
from mmcrnet.explain import feature_label
from mmcrnet.features import FEATURES_BY_NAME
from mmcrnet.teach.case import TeachingCase
from mmcrnet.teach.quiz import QUIZ_SIZE, Attempt, Marked, QuizItem, Tally, mark, quiz_set
from mmcrnet.teach.truth import truth_table
from ui import figures, teach_state
from ui import teach_figures as tf
from ui.result import percent
from ui.tables import table

QUIZ, TALLY = "quiz.state", "quiz.tally"
CLICK, ROW, COLUMN, POINTING = "quiz.click", "quiz.row", "quiz.column", "quiz.pointing"
PHASE_SHOWN = 1  # the early phase: where a radiologist looks for the enhancing tumour


@dataclass
class Quiz:
    """One quiz in the session: its cohort, cases, where the learner is, and the last mark."""

    cohort: str
    items: list[QuizItem]
    id: str = field(default_factory=lambda: secrets.token_hex(4))  # widgets start afresh
    index: int = 0
    marked: Marked | None = None
    done: list[Marked] = field(default_factory=list)

    @property
    def finished(self) -> bool:
        return self.index >= len(self.items)


def tally() -> Tally:
    """The session's running score (over every quiz played in it)."""
    if TALLY not in st.session_state:
        st.session_state[TALLY] = Tally()
    return st.session_state[TALLY]


def new_quiz(folder: Path, size: int) -> Quiz:
    chosen = teach_state.cohort(str(folder))
    assert chosen.outcomes is not None
    items = quiz_set(truth_table(chosen), chosen.outcomes, size, secrets.randbelow(2**31))
    quiz = Quiz(str(folder), items)
    st.session_state[QUIZ] = quiz
    _clear_point()
    return quiz


def _clear_point() -> None:
    for key in (ROW, COLUMN, POINTING, CLICK):
        st.session_state.pop(key, None)


def setup_ui() -> Quiz:
    """Cohort and size; a new quiz on request (or on the first visit)."""
    folders = teach_state.cohort_folders()
    left, middle, right = st.columns([3, 1, 1], vertical_alignment="bottom")
    folder = left.selectbox(
        "Phantom cohort",
        folders,
        index=folders.index(teach_state.current_cohort()),
        format_func=teach_state.cohort_label,
        key="quiz.cohort",
    )
    teach_state.choose(folder)
    size = int(middle.number_input("Cases", 1, 30, QUIZ_SIZE, key="quiz.size"))
    quiz: Quiz | None = st.session_state.get(QUIZ)
    if right.button("New quiz", key="quiz.new") or quiz is None or quiz.cohort != str(folder):
        quiz = new_quiz(folder, size)
    return quiz


def score_ui() -> None:
    score = tally()
    columns = st.columns(4)
    columns[0].metric("You: right", f"{score.learner_right} / {score.rounds}")
    columns[1].metric("Model: right", f"{score.model_right} / {score.model_judged}")
    columns[2].metric("You: on tumour", f"{score.learner_located} / {score.learner_pointed}")
    columns[3].metric("Model: on tumour", f"{score.model_located} / {score.model_mapped}")
    st.caption(" ".join(score.lines()))


def values_tables(case: TeachingCase) -> tuple[list[dict[str, str]], list[dict[str, str]]]:
    """The form as the model read it: the baseline values (feature, value) and the follow-up
    values (feature, one column per time point); "" where missing."""
    sequence = case.explanation.sequence
    if sequence is None or not sequence.values:
        return [], []
    baseline, follow_up = [], []
    for j, name in enumerate(sequence.features):
        if name == "subtype":
            continue
        if FEATURES_BY_NAME[name].timing == "dynamic":
            row = {"feature": feature_label(name)}
            for t, tp in enumerate(sequence.time_points):
                row[f"{tp} (week {sequence.weeks[t]:g})"] = sequence.values[t][j]
            follow_up.append(row)
        else:
            baseline.append({"feature": feature_label(name), "baseline": sequence.values[0][j]})
    return baseline, follow_up


def _captions(case: TeachingCase) -> list[str]:
    """Each phase as the model read it ("early: phase 2, 90 s")."""
    image = case.explanation.image
    if image is not None and len(image.channels) == len(case.study.phases):
        return list(image.channels)
    return [phase.label for phase in case.study.phases]


def _point() -> tuple[float, float] | None:
    if not st.session_state.get(POINTING):
        return None
    return float(st.session_state.get(ROW, 0)), float(st.session_state.get(COLUMN, 0))


def _clicked() -> None:
    """A click on the image sets the sliders (so the keyboard and the mouse agree)."""
    event = st.session_state.get(CLICK)
    points = event.selection.points if event is not None else []
    if points:
        st.session_state[COLUMN] = int(round(float(points[0]["x"])))
        st.session_state[ROW] = int(round(float(points[0]["y"])))
        st.session_state[POINTING] = True


def round_ui(quiz: Quiz, case: TeachingCase) -> None:
    """The case without its answer; the learner's response and (optional) point."""
    st.subheader(f"Case {quiz.index + 1} of {len(quiz.items)}")
    study = case.study
    columns = st.columns(3)
    for column, caption, phase in zip(columns, _captions(case), study.phases):
        column.image(tf.gray(phase.volume[study.slice_index]), caption=caption, width="stretch")
    with st.expander("The form (baseline and follow-up values)", expanded=True):
        baseline, follow_up = values_tables(case)
        table(follow_up, all_rows=True)
        half = (len(baseline) + 1) // 2
        left, right = st.columns(2)
        with left:
            table(baseline[:half], all_rows=True)
        with right:
            table(baseline[half:], all_rows=True)
    answer = st.radio(
        "Your answer: the response to neoadjuvant chemotherapy",
        OUTCOMES,
        index=None,
        horizontal=True,
        key=f"quiz.answer.{quiz.id}.{quiz.index}",
    )
    st.markdown(
        "**Where is the evidence?** (optional) Click on the early phase below, or tick the box "
        "and set the point with the sliders."
    )
    pixels = study.phases[min(PHASE_SHOWN, len(study.phases) - 1)].volume[study.slice_index]
    picture = tf.gray(pixels)
    point = _point()
    if point is not None:
        picture = tf.cross(picture, point, tf.LEARNER)
    left, right = st.columns([3, 2])
    with left:
        st.plotly_chart(
            tf.click_figure(picture),
            key=CLICK,
            on_select=_clicked,
            selection_mode="points",
            config={"displayModeBar": False},
        )
    height, width = pixels.shape
    st.session_state.setdefault(POINTING, False)
    st.session_state.setdefault(ROW, height // 2)
    st.session_state.setdefault(COLUMN, width // 2)
    with right:
        st.checkbox("Mark a point", key=POINTING)
        st.slider("Row (top to bottom)", 0, height - 1, key=ROW)
        st.slider("Column (left to right)", 0, width - 1, key=COLUMN)
        point = _point()
        st.caption(
            f"Your point: row {point[0]:.0f}, column {point[1]:.0f} (green cross)."
            if point is not None
            else "No point marked: only your response is scored."
        )
    if answer is None:
        st.caption("Choose a response to reveal the answer.")
    if st.button("Reveal the answer", key="quiz.reveal", disabled=answer is None, type="primary"):
        marked = mark(Attempt(str(answer), _point()), case)
        quiz.marked = marked
        quiz.done.append(marked)
        tally().add(marked)
        st.rerun()


def reveal_ui(quiz: Quiz, case: TeachingCase) -> None:
    """The truth, the model's answer and map, the learner's and the model's marks."""
    marked = quiz.marked
    assert marked is not None
    item = quiz.items[quiz.index]
    st.subheader(f"Case {quiz.index + 1} of {len(quiz.items)}: {case.case_id} ({item.why})")
    probabilities = case.explanation.prediction.probabilities
    you = ":green[right]" if marked.learner_right else ":red[wrong]"
    if marked.model_judged:
        model = ":green[right]" if marked.model_right else ":red[wrong]"
    else:
        model = ":orange[flagged: it cannot judge this case, so the answer is not scored]"
    st.markdown(
        f"The truth: **{marked.truth}**. You answered **{marked.answer}** ({you}). The model "
        f"answered **{marked.model_answer}** ({percent(probabilities[marked.model_answer])}; "
        f"{model})."
    )
    if not marked.model_judged:
        st.warning(
            "Why the model cannot judge it: "
            + "; ".join(case.guard.image_reasons + case.guard.tabular_reasons),
            icon=":material/warning:",
        )
    lines = []
    if marked.learner_located is not None and marked.distance_mm is not None:
        lines.append(
            "Your point is on the tumour."
            if marked.learner_located
            else f"Your point is {marked.distance_mm:.0f} mm from the tumour."
        )
    if marked.model_located is not None:
        lines.append(
            "The model's strongest evidence (white cross) is on the tumour."
            if marked.model_located
            else "The model's strongest evidence (white cross) is off the tumour."
        )
    if lines:
        st.markdown(" ".join(lines))
    image = case.explanation.image
    study = case.study
    cam = image.maps["gradcam"] if image is not None else None
    columns = st.columns(3)
    for column, caption, phase in zip(columns, _captions(case), study.phases):
        pixels = phase.volume[study.slice_index]
        picture = (
            figures.overlay(pixels, cam, 0.6, against=False) if cam is not None else tf.gray(pixels)
        )
        if case.mask is not None:
            picture = tf.outline(picture, case.mask)
        if marked.model_point is not None:
            picture = tf.cross(picture, marked.model_point, tf.MODEL_POINT)
        point = _point()
        if point is not None:
            picture = tf.cross(picture, point, tf.LEARNER)
        column.image(picture, caption=caption, width="stretch")
    st.image(
        figures.colour_bar(False),
        caption=f"evidence for {marked.model_answer}: none (left) to strongest (right)",
        width=256,
    )
    st.caption(
        "Yellow: the true tumour. Red: where the model sees evidence for its own answer, "
        f"{marked.model_answer} (Grad-CAM; the Case and truth page shows the pCR-against-no-"
        "response map instead). Green cross: your point; white: the model's strongest point."
    )
    for sentence in case.agreement.sentences[:2]:
        st.markdown(f"- {sentence}")
    left, right, _ = st.columns([1, 2, 2])
    if left.button("Next case", key="quiz.next", type="primary"):
        quiz.index += 1
        quiz.marked = None
        _clear_point()
        st.rerun()
    if right.button("Open this case with its truth", key="quiz.open"):
        teach_state.choose(Path(quiz.cohort), case.case_id, case.image_kind)
        st.switch_page("pages/case_truth.py")


def finished_ui(quiz: Quiz) -> None:
    st.subheader("Quiz done")
    right = sum(m.learner_right for m in quiz.done)
    model = sum(m.model_right for m in quiz.done)
    judged = sum(m.model_judged for m in quiz.done)
    st.markdown(
        f"In this quiz: you {right} of {len(quiz.done)}, the model {model} of the {judged} "
        "cases it judged."
    )
    table(
        [
            {
                "case": item.case_id,
                "chosen as": item.why,
                "truth": m.truth,
                "you": m.answer,
                "the model": m.model_answer if m.model_judged else f"{m.model_answer} (flagged)",
            }
            for item, m in zip(quiz.items, quiz.done)
        ]
    )
    st.caption('Press "New quiz" for another set of cases.')
