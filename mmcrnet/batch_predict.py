"""Batch prediction over a cohort folder: every case read, prepared, guarded and predicted the
way the Predict page does it (the same readers, the same sandbox, the same guard), one row per
case, with what was left out and why. Written as CSV (safe to open in a spreadsheet) or JSON
lines; with outcomes, scored with the evaluation's metrics and curves.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import numpy as np

from mmcrnet.case import ClinicalCase
from mmcrnet.checkpoint import InvalidModel
from mmcrnet.cohort import Cohort, load_cohort
from mmcrnet.curves import Curves, curves
from mmcrnet.errors import InvalidArgument, OncoPredictError
from mmcrnet.evaluate import subgroup_metrics
from mmcrnet.explain import Explainer
from mmcrnet.features import OUTCOMES, SUBTYPES, column_codes, feature, subtype_of
from mmcrnet.guard import Guard
from mmcrnet.io import Study, read_paths
from mmcrnet.jsonsafe import json_safe
from mmcrnet.metrics import Scores, scores
from mmcrnet.model_card import breakdown_rows
from mmcrnet.predict import Predictor

#: which image a case is predicted with: "auto" takes the MRI, else the mammogram, else none
IMAGE_CHOICES: tuple[str, ...] = ("auto", "mri", "mammogram", "none")
#: a spreadsheet reads a cell starting with one of these as a formula (CSV injection)
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class CaseRow:
    """One case of a batch.

    Attributes:
        case_id: as in the cohort.
        image: what the model read: "mri", "mammogram" or "none" ("" when not predicted).
        time_points: time points the model read (0 when not predicted).
        probabilities: calibrated, OUTCOMES order; None when not predicted.
        outcome: the cohort's outcome, None when it has none.
        flags: the guard's reasons (an input the model cannot judge): no ordinary answer.
        problem: why the case has no prediction (a file or value that could not be read).
        left_out: "file: reason" for each file of the case's image that was not read (the
            prediction is on the rest, as the Predict page would make it), paths relative to
            the cohort folder.
        reasons: the largest reasons in words (with ``explain``), largest first.
        explanation: the explanation without maps (with ``explain``), for JSON lines.
    """

    case_id: str
    image: str
    time_points: int
    probabilities: tuple[float, ...] | None
    outcome: str | None
    flags: tuple[str, ...] = ()
    problem: str | None = None
    reasons: tuple[str, ...] = ()
    explanation: dict[str, Any] | None = None
    left_out: tuple[str, ...] = ()
    subtype: str = "unknown"  # from ER, PR and HER2 as the cohort gives them

    @property
    def predicted(self) -> str | None:
        if self.probabilities is None:
            return None
        return OUTCOMES[int(np.argmax(self.probabilities))]

    @property
    def status(self) -> str:
        """ "predicted", "flagged" (the guard says the model cannot judge it) or "not predicted"."""
        if self.problem is not None:
            return "not predicted"
        return "flagged" if self.flags else "predicted"

    def to_dict(self) -> dict[str, Any]:
        data = {
            "case_id": self.case_id,
            "status": self.status,
            "image": self.image,
            "time_points": self.time_points,
            "probabilities": None
            if self.probabilities is None
            else dict(zip(OUTCOMES, self.probabilities)),
            "predicted": self.predicted,
            "outcome": self.outcome,
            "flags": list(self.flags),
            "problem": self.problem,
            "reasons": list(self.reasons),
            **({"explanation": self.explanation} if self.explanation is not None else {}),
        }
        return cast(dict[str, Any], json_safe(data))


@dataclass(frozen=True)
class BatchResult:
    """A cohort's batch prediction by one model."""

    model: str
    weights_sha256: str
    training_data: str
    cohort: str
    rows: tuple[CaseRow, ...]
    unguarded: str | None = None  # why the guard did not run (a model without one)
    warnings: tuple[str, ...] = field(default=())

    @property
    def has_outcomes(self) -> bool:
        return any(r.outcome is not None for r in self.rows)

    def counts(self) -> dict[str, int]:
        return {
            status: sum(r.status == status for r in self.rows)
            for status in ("predicted", "flagged", "not predicted")
        }

    def scored_rows(self, include_flagged: bool = False) -> list[CaseRow]:
        """Rows with a prediction and an outcome (flagged ones only when asked)."""
        return [
            r
            for r in self.rows
            if r.probabilities is not None
            and r.outcome is not None
            and (include_flagged or not r.flags)
        ]

    def _arrays(self, include_flagged: bool) -> tuple[np.ndarray, np.ndarray]:
        rows = self.scored_rows(include_flagged)
        y = np.array([OUTCOMES.index(str(r.outcome)) for r in rows], dtype=int)
        proba = np.array([r.probabilities for r in rows], dtype=float).reshape(-1, len(OUTCOMES))
        return y, proba

    def scores(self, include_flagged: bool = False) -> Scores | None:
        """Metrics over the scored rows; None without any."""
        y, proba = self._arrays(include_flagged)
        return scores(y, proba) if len(y) else None

    def curves(self, include_flagged: bool = False) -> Curves | None:
        y, proba = self._arrays(include_flagged)
        return curves(y, proba) if len(y) else None

    def breakdown(self) -> list[dict[str, Any]]:
        """Metrics of the judged cases by time points, subtype and image input, as the
        evaluation computes them (:func:`mmcrnet.evaluate.subgroup_metrics`) and the Model
        page lists them (:func:`mmcrnet.model_card.breakdown_rows`)."""
        rows = self.scored_rows()
        groups: dict[str, dict[str, Any]] = {}
        for key, of in (
            ("by_time_points", lambda r: str(r.time_points)),
            ("by_subtype", lambda r: r.subtype),
            ("by_image", lambda r: r.image),
        ):
            groups[key] = {}
            for group in sorted({of(r) for r in rows}):
                chosen = [r for r in rows if of(r) == group]
                y = np.array([OUTCOMES.index(str(r.outcome)) for r in chosen])
                groups[key][group] = subgroup_metrics(
                    y, np.array([r.probabilities for r in chosen])
                )
        return breakdown_rows(groups)

    def to_csv(self) -> str:
        """One line per case; every text cell that a spreadsheet would run as a formula is
        prefixed with an apostrophe (OWASP's advice for CSV injection)."""
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        header = [
            "case_id",
            "status",
            "image",
            "time_points",
            *(f"p_{c}" for c in OUTCOMES),
            "predicted",
            "outcome",
            "flags",
            "problem",
            "left_out",
            "reasons",
        ]
        writer.writerow(header)
        for r in self.rows:
            probabilities = (
                [f"{p:.4f}" for p in r.probabilities] if r.probabilities else [""] * len(OUTCOMES)
            )
            writer.writerow(
                [
                    safe_cell(r.case_id),
                    r.status,
                    r.image,
                    r.time_points or "",
                    *probabilities,
                    r.predicted or "",
                    r.outcome or "",
                    safe_cell("; ".join(r.flags)),
                    safe_cell(r.problem or ""),
                    safe_cell("; ".join(r.left_out)),
                    safe_cell("; ".join(r.reasons)),
                ]
            )
        return buffer.getvalue()

    @classmethod
    def from_jsonl(cls, text: str, summary: dict[str, Any]) -> BatchResult:
        """A batch written by :meth:`to_jsonl`, with its :meth:`summary` (what a job reports).

        Raises:
            ValueError: a line that is not one of ours (named by its number).
        """
        rows = []
        for number, line in enumerate(text.splitlines(), start=1):
            try:
                data = json.loads(line)
                probabilities = data["probabilities"]
                rows.append(
                    CaseRow(
                        str(data["case_id"]),
                        str(data["image"]),
                        int(data["time_points"]),
                        None
                        if probabilities is None
                        else tuple(float(probabilities[c]) for c in OUTCOMES),
                        data["outcome"],
                        tuple(data["flags"]),
                        data["problem"],
                        tuple(data["reasons"]),
                        data.get("explanation"),
                        tuple(data.get("left_out", ())),
                        str(data.get("subtype", "unknown")),
                    )
                )
            except (json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
                raise ValueError(f"line {number} is not a batch prediction row ({exc})") from exc
        return cls(
            str(summary.get("model")),
            str(summary.get("weights_sha256")),
            str(summary.get("training_data")),
            str(summary.get("cohort")),
            tuple(rows),
            summary.get("unguarded"),
            tuple(summary.get("warnings", ())),
        )

    def to_jsonl(self) -> str:
        """One JSON object per case (strict JSON: no NaN)."""
        return "".join(json.dumps(r.to_dict(), allow_nan=False) + "\n" for r in self.rows)

    def summary(self) -> dict[str, Any]:
        """Counts, the model and (with outcomes) the metrics, without and with flagged cases."""
        result: dict[str, Any] = {
            "model": self.model,
            "weights_sha256": self.weights_sha256,
            "training_data": self.training_data,
            "cohort": self.cohort,
            "cases": len(self.rows),
            **self.counts(),
            "with_files_left_out": sum(bool(r.left_out) for r in self.rows),
            "unguarded": self.unguarded,
            "warnings": list(self.warnings),
        }
        if self.has_outcomes:
            judged, everything = self.scores(), self.scores(include_flagged=True)
            result["metrics"] = judged.to_dict() if judged else None
            result["metrics_with_flagged"] = everything.to_dict() if everything else None
        return result


def safe_cell(text: str) -> str:
    """``text`` made inert for a spreadsheet: a leading apostrophe where it would start a
    formula (``=``, ``+``, ``-``, ``@``, tab, carriage return)."""
    return f"'{text}" if text.startswith(FORMULA_STARTS) else text


def _image_kind(cohort: Cohort, case_id: str, image: str) -> str:
    if image != "auto":
        return image
    for kind in ("mri", "mammogram"):
        if cohort.image_paths(case_id, kind):
            return kind
    return "none"


def predict_case(
    explainer: Explainer,
    guard: Guard | None,
    cohort: Cohort,
    case_id: str,
    image: str = "auto",
    explain: bool = False,
    reasons: int = 5,
) -> CaseRow:
    """One case of ``cohort``: read -> prepare -> guard -> predict (-> explain). A problem with
    the case's own data becomes its row's ``problem``, never an exception; a bug of ours is
    raised."""
    outcome = None
    if cohort.outcomes is not None:
        match = cohort.outcomes.loc[cohort.outcomes["case_id"] == case_id, "response"]
        outcome = str(match.iloc[0]) if len(match) else None
    kind = _image_kind(cohort, case_id, image)
    subtype = _subtype(cohort, case_id)
    try:
        clinical = ClinicalCase.from_tables(cohort.cases, cohort.timepoints, case_id)
        study: Study | None = None
        if kind != "none":
            paths = cohort.image_paths(case_id, kind)
            if not paths:
                raise OncoPredictError(f"no {kind} image in images/{case_id}/")
            study = read_paths(paths)  # untrusted files: decoded in the sandbox
        predictor = explainer.predictor
        prepared = predictor.prepare(clinical, study)
    except OncoPredictError as exc:
        return CaseRow(
            case_id,
            "",
            0,
            None,
            outcome,
            problem=_relative(str(exc), cohort.root),
            subtype=subtype,
        )
    logits = predictor.logits(prepared)
    prediction = predictor.prediction(prepared, logits)
    flags: tuple[str, ...] = ()
    if guard is not None:
        report = guard.check(study, prepared, clinical, predictor.model)
        flags = report.image_reasons + report.tabular_reasons
    said: tuple[str, ...] = ()
    document = None
    if explain:
        explanation = explainer.explain(clinical, study, prepared=prepared)
        said = tuple(s.text for s in explanation.statements(reasons))
        document = explanation.to_dict(include_maps=False)
    return CaseRow(
        case_id,
        prediction.image_kind,
        prediction.time_points,
        tuple(prediction.probabilities[c] for c in OUTCOMES),
        outcome,
        flags,
        None,
        said,
        document,
        tuple(_relative(item, cohort.root) for item in (study.left_out if study else ())),
        subtype,
    )


def _subtype(cohort: Cohort, case_id: str) -> str:
    """The case's subtype from its ER, PR and HER2 values ("unknown" where they do not say)."""
    row = cohort.cases[cohort.cases["case_id"] == case_id]
    try:
        codes = [
            column_codes(feature(n), row[n]) for n in ("er_percent", "pr_percent", "her2_status")
        ]
    except OncoPredictError:
        return "unknown"
    index = int(subtype_of(*codes)[0]) if len(row) else -1
    return SUBTYPES[index] if index >= 0 else "unknown"


def _relative(text: str, root: Path) -> str:
    """``text`` with the cohort folder's path taken out of file names (they are the
    researcher's own: relative paths say which file without where the cohort lives)."""
    return text.replace(f"{root.resolve()}/", "").replace(f"{root}/", "")


def predict_cohort(
    model_dir: Path | str,
    cohort_dir: Path | str,
    *,
    image: str = "auto",
    explain: bool = False,
    device: str | None = None,
    steps: int = 64,
    progress: Progress | None = None,
    explainer: Explainer | None = None,
) -> BatchResult:
    """Predict every case of the cohort folder ``cohort_dir`` with the model in ``model_dir``.

    Args:
        image: which image each case is predicted with (:data:`IMAGE_CHOICES`).
        explain: also explain each case (reasons in words; the explanation in JSON lines).
        progress: called with (cases done, cases) after each case.
        explainer: an already loaded explainer of that model (the app's), else one is loaded.

    Raises:
        InvalidCohort: the folder does not follow the cohort format (every problem listed).
        InvalidArgument: an unknown ``image`` choice.
    """
    if image not in IMAGE_CHOICES:
        raise InvalidArgument(f"image '{image}' is not one of {', '.join(IMAGE_CHOICES)}")
    cohort = load_cohort(cohort_dir, require_outcomes=False)
    explainer = explainer or Explainer(Predictor(model_dir, device=device), steps=steps)
    unguarded = None
    try:
        guard: Guard | None = Guard.load(model_dir)
    except InvalidModel as exc:
        guard, unguarded = None, str(exc)
    rows = []
    ids = cohort.case_ids
    for done, case_id in enumerate(ids, start=1):
        rows.append(predict_case(explainer, guard, cohort, case_id, image, explain))
        if progress:
            progress(done, len(ids))
    predictor = explainer.predictor
    return BatchResult(
        predictor.name,
        str(predictor.card["weights"]["sha256"]),
        str(predictor.card.get("training_data")),
        str(cohort.metadata.get("description") or Path(cohort_dir).name),
        tuple(rows),
        unguarded,
        cohort.warnings,
    )
