"""One case of a cohort folder answered: read -> prepare -> guard -> explain, as the page does.

``python -m mmcrnet explain`` is this module behind a parser: the result document
(:mod:`mmcrnet.report`) for ``--json``, :meth:`CaseAnswer.text` otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mmcrnet.case import ClinicalCase
from mmcrnet.checkpoint import InvalidModel
from mmcrnet.cohort import load_cohort
from mmcrnet.errors import OncoPredictError
from mmcrnet.explain import MODALITIES, Explainer, Explanation
from mmcrnet.guard import Guard, GuardReport
from mmcrnet.io import Study, read_paths
from mmcrnet.predict import Predictor
from mmcrnet.report import CaseReport, case_report


def case_inputs(
    cohort_dir: Path, case_id: str, image: str = "mri", time_points: int | None = None
) -> tuple[ClinicalCase, Study | None]:
    """The clinical values and the image study (``image``: mri, mammogram or none) of one case,
    with only its first ``time_points`` time points when given.

    Raises:
        InvalidCohort, InvalidCase: the folder or the case is not readable (named).
        OncoPredictError: the case has no image of that kind.
    """
    cohort = load_cohort(cohort_dir, require_outcomes=False)
    clinical = ClinicalCase.from_tables(cohort.cases, cohort.timepoints, case_id)
    if time_points is not None:
        clinical = ClinicalCase(clinical.static, list(clinical.timepoints)[:time_points])
    if image == "none":
        return clinical, None
    paths = cohort.image_paths(case_id, image)
    if not paths:
        raise OncoPredictError(f"case '{case_id}' has no {image} image in {cohort_dir}")
    return clinical, read_paths(paths)


@dataclass(frozen=True)
class CaseAnswer:
    """A case, its explanation and the guard's verdict (None when the model has no guard, with
    ``unguarded`` saying why)."""

    case_id: str
    clinical: ClinicalCase
    study: Study | None
    explanation: Explanation
    guard: GuardReport | None
    unguarded: str | None = None

    def report(self, include_maps: bool = True) -> CaseReport:
        """The result document, the same as the app's download."""
        return case_report(
            self.explanation,
            self.clinical.static,
            self.clinical.timepoints,
            self.study,
            self.guard,
            () if self.guard is not None else (f"no guard: {self.unguarded}",),
            case_label=self.case_id,
            include_maps=include_maps,
        )

    def warning(self) -> str | None:
        """The line that must precede an answer the model cannot vouch for; None when fine."""
        if self.guard is None:
            return f"WARNING: no out-of-distribution guard ({self.unguarded})"
        if not self.guard.ok:
            return "WARNING: outside what the model was trained on, not a reliable answer: " + (
                "; ".join((*self.guard.image_reasons, *self.guard.tabular_reasons))
            )
        return None

    def text(self, top: int = 8) -> str:
        """The answer in plain lines: prediction, ``top`` reasons, modalities, trajectory, map."""
        explanation = self.explanation
        p = explanation.prediction
        outcomes = list(p.probabilities)
        lines = [
            f"case {self.case_id}: {p.label} "
            + " / ".join(f"{c} {v:.2f}" for c, v in p.probabilities.items())
            + f" ({p.image_kind} image, {p.time_points} time points; {p.model}, trained on "
            f"{p.training_data}). Research use only, not for clinical decisions.",
            f"reasons, towards or away from {explanation.target}:",
        ]
        lines += [f"  {s.value:+.3f}  {s.text}" for s in explanation.statements(top)]
        shapley = explanation.modalities.shapley[:, outcomes.index(explanation.target)]
        lines.append(
            f"modalities (change in P({explanation.target})): "
            + ", ".join(f"{m} {shapley[i]:+.3f}" for i, m in enumerate(MODALITIES))
        )
        lines.append(
            "with each time point: "
            + " -> ".join(
                f"{row['time_point']} " + "/".join(f"{float(row[c]):.2f}" for c in outcomes)
                for row in explanation.trajectory
            )
        )
        if explanation.image is not None:
            cam = explanation.image.maps["gradcam"]
            row, col = np.unravel_index(int(np.argmax(cam)), cam.shape)
            lines.append(
                f"Grad-CAM ({explanation.image.layer}): "
                + (
                    f"strongest evidence towards {explanation.target} at row {row}, column {col} "
                    f"of {cam.shape}"
                    if cam.max() > 0
                    else f"no region of the image pushes towards {explanation.target}"
                )
            )
        lines.append(f"time: {explanation.timings_ms['total']:.0f} ms")
        warning = self.warning()
        return "\n".join([warning, *lines] if warning else lines)


def answer_case(
    model_dir: Path,
    cohort_dir: Path,
    case_id: str,
    *,
    image: str = "mri",
    time_points: int | None = None,
    target: str | None = None,
    steps: int = 64,
    device: str | None = None,
) -> CaseAnswer:
    """Read one case of ``cohort_dir``, predict, guard and explain it with the model in
    ``model_dir`` (``target``: the outcome to explain, default the predicted one)."""
    clinical, study = case_inputs(cohort_dir, case_id, image, time_points)
    explainer = Explainer(Predictor(model_dir, device=device), steps=steps)
    prepared = explainer.predictor.prepare(clinical, study)
    explanation = explainer.explain(clinical, study, target=target, prepared=prepared)
    try:  # what the model cannot judge is said, never printed as an ordinary answer
        guard = Guard.load(model_dir).check(study, prepared, clinical, explainer.predictor.model)
    except InvalidModel as exc:
        return CaseAnswer(case_id, clinical, study, explanation, None, str(exc))
    return CaseAnswer(case_id, clinical, study, explanation, guard)
