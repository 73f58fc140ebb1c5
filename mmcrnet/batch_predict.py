"""Batch prediction over a cohort folder: every case read, prepared, guarded and predicted the
way the Predict page does it (the same readers, the same sandbox, the same guard), one row per
case, with what was left out and why. Written as CSV (safe to open in a spreadsheet) or JSON
lines; with outcomes, scored with the evaluation's metrics and curves.
"""

from __future__ import annotations

import csv
import io
import json
import multiprocessing
import queue
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import numpy as np
import pandas as pd
import torch

from mmcrnet.case import ClinicalCase
from mmcrnet.checkpoint import InvalidModel
from mmcrnet.cohort import Cohort, load_cohort
from mmcrnet.curves import Curves, curves
from mmcrnet.data import EncodedSequences, encode_sequences
from mmcrnet.errors import InvalidArgument, InvalidCase, OncoPredictError
from mmcrnet.evaluate import subgroup_metrics
from mmcrnet.explain import Explainer
from mmcrnet.features import OUTCOMES, SUBTYPES, column_codes, feature, subtype_of
from mmcrnet.guard import Guard, logits_and_image_features
from mmcrnet.io import Study, read_paths
from mmcrnet.io.sandbox import reused_child
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


@dataclass(frozen=True)
class ImageRead:
    """What reading a case's image gave: its study (None for no image) or the problem."""

    study_read: Study | None
    problem: OncoPredictError | None = None

    def study(self) -> Study | None:
        """The study. Raises: the problem that kept it from being read."""
        if self.problem is not None:
            raise self.problem
        return self.study_read


def read_case_image(cohort: Cohort, case_id: str, image: str) -> ImageRead:
    """The case's image (``image``: one of :data:`IMAGE_CHOICES`), decoded in the sandbox
    (untrusted files)."""
    kind = _image_kind(cohort, case_id, image)
    if kind == "none":
        return ImageRead(None)
    paths = cohort.image_paths(case_id, kind)
    if not paths:
        return ImageRead(None, OncoPredictError(f"no {kind} image in images/{case_id}/"))
    try:
        return ImageRead(read_paths(paths))
    except OncoPredictError as exc:
        return ImageRead(None, exc)


def _read_ahead(
    cohort: Cohort, ids: Sequence[str], image: str, depth: int = 4
) -> Iterator[ImageRead]:
    """:func:`read_case_image` of each case of ``ids`` in order, read up to ``depth`` cases
    ahead by a thread (with one decoding child for all of them) while the caller predicts:
    the decoding child and the model then work at the same time. A bug in the reading
    thread is raised here."""
    ahead: queue.Queue[ImageRead | BaseException | None] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(item: ImageRead | BaseException | None) -> None:
        while not stop.is_set():
            try:
                ahead.put(item, timeout=0.1)
                return
            except queue.Full:
                continue

    def read_all() -> None:
        try:
            with reused_child():
                for case_id in ids:
                    if stop.is_set():
                        return
                    put(read_case_image(cohort, case_id, image))
            put(None)
        except BaseException as exc:  # a bug: handed to the caller, who raises it
            put(exc)

    reader = threading.Thread(target=read_all, name="oncopredict-read-ahead", daemon=True)
    reader.start()
    try:
        for _ in ids:
            item = ahead.get()
            if isinstance(item, BaseException):
                raise item
            assert item is not None, "the reading thread ended early"
            yield item
    finally:
        stop.set()
        reader.join()


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
    index: CohortIndex | None = None,
    read: ImageRead | None = None,
) -> CaseRow:
    """One case of ``cohort``: read -> prepare -> guard -> predict (-> explain). A problem with
    the case's own data becomes its row's ``problem``, never an exception; a bug of ours is
    raised.

    Args:
        index: the cohort's :class:`CohortIndex` (built once for many cases), else built here.
        read: the case's image as :func:`read_case_image` read it (ahead), else read here.
    """
    index = index or CohortIndex.of(cohort, explainer.predictor.model.config.groups, [case_id])
    outcome = index.outcomes.get(case_id)
    subtype = index.subtypes.get(case_id) or _subtype(
        cohort.cases[cohort.cases["case_id"] == case_id]
    )
    try:  # a case the cohort's tables do not hold is refused by from_tables, in one line
        clinical = index.clinical.get(case_id) or ClinicalCase.from_tables(
            cohort.cases, cohort.timepoints, case_id
        )
        study = (read or read_case_image(cohort, case_id, image)).study()
        predictor = explainer.predictor
        prepared = predictor.prepare(clinical, study, index.encoded.get(case_id))
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
    flags: tuple[str, ...] = ()
    if guard is not None:  # one forward pass for the prediction and the guard's measures
        output, features = logits_and_image_features(predictor.model, prepared)
        logits = output.float().cpu().numpy()
        report = guard.check(study, prepared, clinical, predictor.model, features)
        flags = report.image_reasons + report.tabular_reasons
    else:
        logits = predictor.logits(prepared)
    prediction = predictor.prediction(prepared, logits)
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


@dataclass(frozen=True)
class CohortIndex:
    """A cohort's tables read by case, and its sequences encoded at once: what predicting
    case after case would otherwise look up in (and encode from) the whole tables each time.

    Attributes:
        outcomes: case_id -> response, for the cases with one.
        encoded: case_id -> its sequence encoded for the model's groups (the same function
            on the same rows as one case alone); empty when a value anywhere in the cohort
            cannot be encoded, so that each case is then encoded, and refused, on its own.
        clinical: case_id -> the case's values as :meth:`ClinicalCase.from_tables` reads them.
        subtypes: case_id -> its subtype (:func:`_subtype`).
    """

    outcomes: dict[str, str]
    encoded: dict[str, EncodedSequences]
    clinical: dict[str, ClinicalCase]
    subtypes: dict[str, str]

    @classmethod
    def of(cls, cohort: Cohort, groups: Sequence[str], ids: Sequence[str]) -> CohortIndex:
        """The index of the cases ``ids`` of ``cohort`` for a model reading ``groups``."""
        wanted = set(ids)
        cases = cohort.cases[cohort.cases["case_id"].isin(wanted)]
        timepoints = cohort.timepoints[cohort.timepoints["case_id"].isin(wanted)]
        outcomes: dict[str, str] = {}
        if cohort.outcomes is not None:
            outcomes = {
                str(c): str(r)
                for c, r in zip(cohort.outcomes["case_id"], cohort.outcomes["response"])
                if c in wanted
            }
        records: dict[str, list[dict[str, object]]] = {str(c): [] for c in cases["case_id"]}
        for record in timepoints.to_dict("records"):
            records.setdefault(str(record.pop("case_id")), []).append(record)
        clinical = {}
        for static in cases.to_dict("records"):
            case_id = str(static.pop("case_id"))
            clinical[case_id] = ClinicalCase(static, records[case_id])
        subtypes = _subtypes(cases) or {
            str(case_id): _subtype(cases.iloc[[k]]) for k, case_id in enumerate(cases["case_id"])
        }
        try:
            encoded = encode_sequences(cases, timepoints, groups)
        except InvalidCase:
            return cls(outcomes, {}, clinical, subtypes)
        one_each = {
            case_id: EncodedSequences(
                encoded.values[k : k + 1], encoded.lengths[k : k + 1], (case_id,)
            )
            for k, case_id in enumerate(encoded.case_ids)
        }
        return cls(outcomes, one_each, clinical, subtypes)


def _subtypes(cases: pd.DataFrame) -> dict[str, str] | None:
    """:func:`_subtype` of every row of ``cases`` at once; None when a value anywhere cannot
    be read (each row then on its own)."""
    try:
        codes = [
            column_codes(feature(n), cases[n]) for n in ("er_percent", "pr_percent", "her2_status")
        ]
    except OncoPredictError:
        return None
    return {
        str(case_id): SUBTYPES[index] if index >= 0 else "unknown"
        for case_id, index in zip(cases["case_id"], subtype_of(*codes).tolist())
    }


def _subtype(row: pd.DataFrame) -> str:
    """The subtype of a case's ``cases`` row from its ER, PR and HER2 values ("unknown" where
    they do not say)."""
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
    workers: int = 1,
) -> BatchResult:
    """Predict every case of the cohort folder ``cohort_dir`` with the model in ``model_dir``.

    Args:
        image: which image each case is predicted with (:data:`IMAGE_CHOICES`).
        explain: also explain each case (reasons in words; the explanation in JSON lines).
        progress: called with (cases done, cases) after each case (each chunk with workers).
        explainer: an already loaded explainer of that model (the app's), else one is loaded.
        workers: processes predicting chunks of cases, each with the model, one torch thread
            and its own decoding child (1: here, with ``explainer``). The rows are the same
            with any number.

    Raises:
        InvalidCohort: the folder does not follow the cohort format (every problem listed).
        InvalidArgument: an unknown ``image`` choice, or ``explainer`` with several workers.
    """
    if image not in IMAGE_CHOICES:
        raise InvalidArgument(f"image '{image}' is not one of {', '.join(IMAGE_CHOICES)}")
    if workers > 1 and explainer is not None:
        raise InvalidArgument("an already loaded explainer predicts in this process only")
    cohort = load_cohort(cohort_dir, require_outcomes=False)
    ids = list(cohort.case_ids)
    job = _Job(str(model_dir), str(cohort_dir), image, explain, device, steps)
    if workers > 1 and len(ids) > _CHUNK:
        rows, unguarded, about = _in_workers(job, ids, workers, progress)
    else:
        state = _load(job, explainer, cohort)
        rows = _predict_chunk(state, ids, progress)
        unguarded, about = state.unguarded, _about(state.explainer.predictor)
    return BatchResult(
        *about,
        str(cohort.metadata.get("description") or Path(cohort_dir).name),
        tuple(rows),
        unguarded,
        cohort.warnings,
    )


#: cases a worker predicts between two progress reports
_CHUNK = 25


@dataclass(frozen=True)
class _Job:
    """What every worker needs to predict its cases (plain values: it crosses to a process)."""

    model_dir: str
    cohort_dir: str
    image: str
    explain: bool
    device: str | None
    steps: int


@dataclass
class _Loaded:
    """A process's model, guard and cohort for a job."""

    job: _Job
    explainer: Explainer
    guard: Guard | None
    unguarded: str | None
    cohort: Cohort


def _load(job: _Job, explainer: Explainer | None = None, cohort: Cohort | None = None) -> _Loaded:
    explainer = explainer or Explainer(Predictor(job.model_dir, device=job.device), steps=job.steps)
    try:
        guard: Guard | None = Guard.load(job.model_dir)
        unguarded = None
    except InvalidModel as exc:
        guard, unguarded = None, str(exc)
    cohort = cohort or load_cohort(job.cohort_dir, require_outcomes=False)
    return _Loaded(job, explainer, guard, unguarded, cohort)


def _about(predictor: Predictor) -> tuple[str, str, str]:
    """The model's name, weights hash and training data, for the result."""
    return (
        predictor.name,
        str(predictor.card["weights"]["sha256"]),
        str(predictor.card.get("training_data")),
    )


def _predict_chunk(
    state: _Loaded, ids: list[str], progress: Progress | None = None
) -> list[CaseRow]:
    rows = []
    job = state.job
    index = CohortIndex.of(state.cohort, state.explainer.predictor.model.config.groups, ids)
    reads = _read_ahead(state.cohort, ids, job.image)
    for done, (case_id, read) in enumerate(zip(ids, reads), start=1):
        rows.append(
            predict_case(
                state.explainer,
                state.guard,
                state.cohort,
                case_id,
                job.image,
                job.explain,
                index=index,
                read=read,
            )
        )
        if progress:
            progress(done, len(ids))
    return rows


_worker_state: _Loaded | None = None


def _start_worker(job: _Job) -> None:
    global _worker_state
    torch.set_num_threads(1)  # one core each: the workers share the machine
    _worker_state = _load(job)


def _worker_chunk(ids: list[str]) -> tuple[list[CaseRow], str | None, tuple[str, str, str]]:
    state = _worker_state
    assert state is not None, "the worker was not started"
    return _predict_chunk(state, ids), state.unguarded, _about(state.explainer.predictor)


def _in_workers(
    job: _Job, ids: list[str], workers: int, progress: Progress | None
) -> tuple[list[CaseRow], str | None, tuple[str, str, str]]:
    """Chunks of ``ids`` in ``workers`` processes (spawned: torch's threads do not survive a
    fork), rows back in the cohort's order."""
    chunks = [ids[i : i + _CHUNK] for i in range(0, len(ids), _CHUNK)]
    results: dict[int, list[CaseRow]] = {}
    unguarded: str | None = None
    about = ("", "", "")
    with ProcessPoolExecutor(
        max_workers=workers,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=_start_worker,
        initargs=(job,),
    ) as pool:
        futures = {pool.submit(_worker_chunk, chunk): k for k, chunk in enumerate(chunks)}
        done = 0
        for future in as_completed(futures):
            rows, unguarded, about = future.result()
            results[futures[future]] = rows
            done += len(rows)
            if progress:
                progress(done, len(ids))
    return [row for k in range(len(chunks)) for row in results[k]], unguarded, about
