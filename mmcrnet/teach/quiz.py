"""A quiz over phantom cases: a set that covers the subtypes and the hard cases, and the marking
of a learner's answer (the response, and optionally where the evidence is) beside the model's.

    truth table -> quiz_set -> for each case: the learner's Attempt + the TeachingCase
                -> mark -> Marked -> Tally (the session's running score)
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy.ndimage import binary_dilation, distance_transform_edt

from mmcrnet.errors import InvalidArgument
from mmcrnet.explain.evaluate import DILATION_PX, _disk
from mmcrnet.explain.gradcam import positive_part
from mmcrnet.features import OUTCOMES, SUBTYPES
from mmcrnet.phantom.cohort import expected_probabilities
from mmcrnet.phantom.images import MG_PIXEL_MM, MRI_PIXEL_MM
from mmcrnet.teach.case import TeachingCase

QUIZ_SIZE = 10
#: A case is hard when the truth's own best guess at baseline gives its outcome less than this.
HARD_BELOW = 0.5


@dataclass(frozen=True)
class QuizItem:
    """One case of a quiz and why it was chosen ("HER2+, partial" or "hard: ...")."""

    case_id: str
    why: str


def quiz_set(
    truth: pd.DataFrame, outcomes: pd.DataFrame, size: int = QUIZ_SIZE, seed: int = 0
) -> list[QuizItem]:
    """Cases covering every (subtype, outcome) pair the cohort has, then hard cases (the
    truth's best guess from baseline gives the true outcome under :data:`HARD_BELOW`), then
    any; shuffled, reproducible for a seed.

    Raises:
        InvalidArgument: ``size`` < 1, or no case has both truth and an outcome.
    """
    if size < 1:
        raise InvalidArgument(f"a quiz needs at least 1 case, got {size}")
    table = truth.merge(outcomes, on="case_id")
    if table.empty:
        raise InvalidArgument("no case has both its truth and its outcome")
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(table))
    table = table.iloc[order].reset_index(drop=True)
    expected = expected_probabilities(table["eta"].to_numpy())
    true_index = table["response"].map(OUTCOMES.index).to_numpy()
    chance = expected[np.arange(len(table)), true_index]
    chosen: list[QuizItem] = []
    taken: set[str] = set()

    def take(row: int, why: str) -> None:
        case_id = str(table["case_id"].iloc[row])
        if case_id not in taken and len(chosen) < size:
            taken.add(case_id)
            chosen.append(QuizItem(case_id, why))

    for subtype in SUBTYPES:
        for outcome in OUTCOMES:
            rows = np.flatnonzero(
                (table["subtype"] == subtype).to_numpy() & (table["response"] == outcome).to_numpy()
            )
            easy = [r for r in rows if chance[r] >= HARD_BELOW]
            if rows.size:
                take(int((easy or rows)[0]), f"{subtype}, {outcome}")
    for row in np.argsort(chance, kind="stable"):
        if chance[row] < HARD_BELOW:
            take(
                int(row),
                f"hard: even the truth gave {table['response'].iloc[row]} only "
                f"{chance[row]:.0%} at baseline".replace("%", " %"),
            )
    for row in range(len(table)):
        take(row, "from the cohort")
    order = rng.permutation(len(chosen))
    return [chosen[i] for i in order]


@dataclass(frozen=True)
class Attempt:
    """The learner's answer: a response, and optionally a point (row, column) in the image's
    pixels where they see the evidence."""

    answer: str
    point: tuple[float, float] | None = None

    def __post_init__(self) -> None:
        if self.answer not in OUTCOMES:
            raise InvalidArgument(f"answer '{self.answer}' is not one of {', '.join(OUTCOMES)}")


@dataclass(frozen=True)
class Marked:
    """One round marked against the truth.

    Attributes:
        truth: the true outcome; learner_right, model_right: whether each named it (the
            model only where it judged the case: a flagged answer is shown, never scored).
        model_judged: the guard let the model judge the case.
        learner_located: the learner's point falls on the tumour (its mask dilated by
            :data:`DILATION_PX` px), None without a point; distance_mm: from the point to the
            tumour (0 inside).
        model_located: the strongest point of the model's map for its prediction falls there
            (the pointing game), None without a map.
        model_point: that strongest point (row, column).
    """

    truth: str
    answer: str
    model_answer: str
    learner_right: bool
    model_right: bool
    learner_located: bool | None
    distance_mm: float | None
    model_located: bool | None
    model_point: tuple[int, int] | None
    model_judged: bool = True


def mark(attempt: Attempt, case: TeachingCase) -> Marked:
    """Mark the learner and the model on one case.

    Raises:
        InvalidArgument: the case has no true outcome, or the point lies outside the image.
    """
    truth = case.truth.outcome
    if truth is None:
        raise InvalidArgument(f"case '{case.case_id}' has no true outcome to mark against")
    mask = case.mask
    region = binary_dilation(mask, _disk(DILATION_PX)) if mask is not None else None
    located = distance = None
    if attempt.point is not None and region is not None and mask is not None:
        row, col = (int(round(v)) for v in attempt.point)
        if not (0 <= row < mask.shape[0] and 0 <= col < mask.shape[1]):
            raise InvalidArgument(
                f"the point ({row}, {col}) is outside the {mask.shape[0]} x {mask.shape[1]} image"
            )
        located = bool(region[row, col])
        spacing = MRI_PIXEL_MM if case.image_kind == "mri" else MG_PIXEL_MM
        distance = float(distance_transform_edt(~mask)[row, col]) * spacing
    model_located = model_point = None
    image = case.explanation.image
    if image is not None and region is not None:
        cam = positive_part(image.maps["gradcam"])
        if cam.sum() > 0:
            flat = int(np.argmax(cam))
            model_point = (flat // cam.shape[1], flat % cam.shape[1])
            model_located = bool(region[model_point])
        else:
            model_located = False
    return Marked(
        truth,
        attempt.answer,
        case.predicted,
        attempt.answer == truth,
        case.guard.ok and case.predicted == truth,
        located,
        distance,
        model_located,
        model_point,
        case.guard.ok,
    )


@dataclass
class Tally:
    """The session's running score."""

    rounds: int = 0
    learner_right: int = 0
    model_judged: int = 0
    model_right: int = 0
    learner_pointed: int = 0
    learner_located: int = 0
    model_located: int = 0
    model_mapped: int = 0
    history: list[Marked] = field(default_factory=list)

    def add(self, marked: Marked) -> None:
        self.rounds += 1
        self.learner_right += marked.learner_right
        self.model_judged += marked.model_judged
        self.model_right += marked.model_right
        if marked.learner_located is not None:
            self.learner_pointed += 1
            self.learner_located += marked.learner_located
        if marked.model_located is not None and marked.model_judged:
            self.model_mapped += 1
            self.model_located += marked.model_located
        self.history.append(marked)

    def lines(self) -> list[str]:
        """The score in words, for the page and its text equivalent."""
        if not self.rounds:
            return ["No round played yet."]
        flagged = self.rounds - self.model_judged
        out = [
            f"You: {self.learner_right} of {self.rounds} responses right; the model: "
            f"{self.model_right} of the {self.model_judged} cases it judged"
            + (
                f" ({flagged} flagged: it cannot judge them, so they are not scored)."
                if flagged
                else "."
            )
        ]
        if self.learner_pointed or self.model_mapped:
            out.append(
                f"Evidence on the tumour: you {self.learner_located} of {self.learner_pointed} "
                f"points; the model's map {self.model_located} of {self.model_mapped}."
            )
        return out
