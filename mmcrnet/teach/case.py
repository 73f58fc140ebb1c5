"""Open one phantom case for teaching: read it as the Predict page would, predict and explain
it, and set the truth beside the answer.

    cohort folder -> images + form (the same readers as Predict) -> prepare -> guard
                  -> explain -> response-axis attributions -> truth, agreement, ideal observer
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from mmcrnet.case import ClinicalCase
from mmcrnet.cohort import Cohort
from mmcrnet.errors import InvalidArgument
from mmcrnet.explain.explanation import Explainer, Explanation
from mmcrnet.features import OUTCOMES
from mmcrnet.guard import Guard, GuardReport
from mmcrnet.io import Study, read_paths
from mmcrnet.teach.agreement import CaseAgreement, case_agreement, response_attributions
from mmcrnet.teach.observer import ImpossibleObservation, follow_ups, ideal_observer
from mmcrnet.teach.truth import CaseTruth, load_truth

IMAGE_KINDS = ("mri", "mammogram")


@dataclass(frozen=True)
class TeachingCase:
    """A phantom case with the model's answer and the truth.

    Attributes:
        cohort: where it comes from; image_kind: the image the model read ("mri",
            "mammogram"); study: that image as read.
        explanation: the prediction and its reasons (the predicted outcome).
        guard: whether the model can judge the case.
        table: (time points, features) the response-axis attributions.
        truth, agreement: the truth and the model's reasons against it.
        ideal: outcome -> the ideal observer's probability (None if the follow-up values are
            impossible in the phantom world, which the bundled cases never are).
        seconds: how long opening took.
    """

    cohort: Cohort
    case_id: str
    image_kind: str
    clinical: ClinicalCase
    study: Study
    explanation: Explanation
    guard: GuardReport
    table: np.ndarray
    truth: CaseTruth
    agreement: CaseAgreement
    ideal: dict[str, float] | None
    seconds: float

    @property
    def predicted(self) -> str:
        return self.explanation.prediction.label

    @property
    def right(self) -> bool | None:
        """Whether the model's most likely outcome is the true one (None without an outcome)."""
        if self.truth.outcome is None:
            return None
        return self.predicted == self.truth.outcome

    @property
    def mask(self) -> np.ndarray | None:
        """The true tumour mask of the image the model read."""
        return self.truth.masks.get(self.image_kind)


def read_case(cohort: Cohort, case_id: str, image_kind: str) -> tuple[ClinicalCase, Study]:
    """The case's form values and image, read as the Predict page reads a bundled example.

    Raises:
        InvalidArgument: not a case of the cohort, or it has no image of that kind.
        OncoPredictError: the image cannot be read (named by file).
    """
    if image_kind not in IMAGE_KINDS:
        raise InvalidArgument(f"image '{image_kind}' is not one of {', '.join(IMAGE_KINDS)}")
    if case_id not in cohort.case_ids:
        raise InvalidArgument(f"case '{case_id}' is not in {cohort.root.name}/")
    paths = cohort.image_paths(case_id, image_kind)
    if not paths:
        raise InvalidArgument(f"case '{case_id}' has no {image_kind} image")
    clinical = ClinicalCase.from_tables(cohort.cases, cohort.timepoints, case_id)
    return clinical, read_paths(paths, isolate=False)  # our own phantom files


def ideal_probabilities(clinical: ClinicalCase, truth: CaseTruth) -> dict[str, float] | None:
    """The ideal observer's probabilities for the case's values (None where impossible)."""
    try:
        probabilities = ideal_observer(
            truth.eta, truth.diameter_cm, truth.ctdna_t0, follow_ups(clinical.timepoints)
        )
    except ImpossibleObservation:
        return None
    return dict(zip(OUTCOMES, map(float, probabilities)))


def open_case(
    explainer: Explainer, guard: Guard, cohort: Cohort, case_id: str, image_kind: str = "mri"
) -> TeachingCase:
    """Read, predict, explain and compare one phantom case with its truth.

    Raises:
        InvalidArgument: see :func:`read_case`; the cohort has no truth.
        OncoPredictError: the case cannot be read or predicted (a bad value, a bad image).
    """
    started = time.perf_counter()
    truth = load_truth(cohort, case_id)
    clinical, study = read_case(cohort, case_id, image_kind)
    prepared = explainer.predictor.prepare(clinical, study)
    report = guard.check(study, prepared, clinical, explainer.predictor.model)
    explanation = explainer.explain(clinical, study, prepared=prepared)
    table = response_attributions(explainer, prepared)
    agreement = case_agreement(explanation, table, truth)
    return TeachingCase(
        cohort,
        case_id,
        image_kind,
        clinical,
        study,
        explanation,
        report,
        table,
        truth,
        agreement,
        ideal_probabilities(clinical, truth),
        time.perf_counter() - started,
    )
