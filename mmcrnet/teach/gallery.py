"""The teaching gallery: phantom cohorts with the model's answer for every case, as cards an
educator filters by subtype, true outcome and whether the model was right.

    phantom write (n, seed) -> batch prediction on the MRI (each model once, kept beside the
    cohort as predictions-<weights>.jsonl) -> cards -> filters

Teaching cohorts live in ``ONCOPREDICT_WORK/teaching/phantom-n<N>-seed<S>/``.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from mmcrnet.batch_predict import BatchResult, predict_cohort
from mmcrnet.cohort import Cohort
from mmcrnet.errors import InvalidArgument
from mmcrnet.explain.explanation import Explainer
from mmcrnet.features import OUTCOMES
from mmcrnet.jobs import write_json_atomic
from mmcrnet.phantom.writer import write_cohort
from mmcrnet.teach.truth import truth_table

#: Largest teaching cohort the page generates (with images; ~0.3 s a case to predict).
MAX_CASES = 2000
CORRECTNESS = ("any", "right", "wrong", "not judged")
_FOLDER = re.compile(r"^phantom-n(\d+)-seed(\d+)$")


@dataclass(frozen=True)
class Card:
    """One case in the gallery.

    Attributes:
        subtype: the drawn subtype (truth); outcome: the true response.
        predicted: the model's most likely outcome (None when it did not predict);
            status: "predicted", "flagged" (the model cannot judge the case) or "not predicted".
        right: predicted == outcome for a judged case, else None.
    """

    case_id: str
    subtype: str
    outcome: str
    predicted: str | None
    status: str
    right: bool | None
    probabilities: tuple[float, ...] | None

    @property
    def verdict(self) -> str:
        """ "right", "wrong" or "not judged" (flagged or not predicted)."""
        if self.right is None:
            return "not judged"
        return "right" if self.right else "wrong"


def folder_name(n: int, seed: int) -> str:
    """``phantom-n<N>-seed<S>``, checked.

    Raises:
        InvalidArgument: n outside 1 .. :data:`MAX_CASES` or a negative seed.
    """
    if not 1 <= n <= MAX_CASES:
        raise InvalidArgument(f"n must be from 1 to {MAX_CASES} cases, got {n}")
    if seed < 0:
        raise InvalidArgument(f"seed must be 0 or more, got {seed}")
    return f"phantom-n{n}-seed{seed}"


def teaching_cohorts(root: Path) -> list[Path]:
    """Finished teaching cohorts under ``root`` (those with their cohort.json), by n and seed."""
    if not root.is_dir():
        return []
    found = []
    for folder in root.iterdir():
        match = _FOLDER.match(folder.name)
        if match and (folder / "cohort.json").is_file() and (folder / "truth").is_dir():
            found.append((int(match[1]), int(match[2]), folder))
    return [folder for _, _, folder in sorted(found)]


def predictions_file(folder: Path, weights_sha256: str) -> Path:
    """Where a model's predictions of a teaching cohort are kept."""
    return folder / f"predictions-{weights_sha256[:12]}.jsonl"


def save_predictions(folder: Path, result: BatchResult) -> Path:
    path = predictions_file(folder, result.weights_sha256)
    write_json_atomic(path.with_suffix(".json"), result.summary())
    partial = path.with_suffix(".partial")
    partial.write_text(result.to_jsonl())
    partial.replace(path)
    return path


def load_predictions(folder: Path, weights_sha256: str) -> BatchResult | None:
    """A model's kept predictions of the cohort, or None when it has none yet.

    Raises:
        ValueError: the kept file is not ours (named by line).
    """
    path = predictions_file(folder, weights_sha256)
    if not path.is_file():
        return None
    summary_path = path.with_suffix(".json")
    summary = json.loads(summary_path.read_text()) if summary_path.is_file() else {}
    return BatchResult.from_jsonl(path.read_text(), summary)


def prepare(
    out: Path,
    n: int,
    seed: int,
    model_dir: Path,
    progress: Callable[[str, int, int], None] | None = None,
    command: str = "",
) -> BatchResult:
    """Write a phantom cohort of ``n`` cases (with images) to ``out`` and predict every case
    on its MRI with the model in ``model_dir``; ``progress(stage, done, total)``.

    The work is done in ``<out>.partial-<pid>`` and renamed to ``out`` at the end, so a
    cancelled or failed run never leaves a half cohort in the Gallery's list, and two runs of
    the same cohort never write into each other's folder."""
    folder_name(n, seed)
    for stale in out.parent.glob(f"{out.name}.partial-*"):  # what cancelled runs left
        if not _running(stale.name.rsplit("-", 1)[-1]):
            shutil.rmtree(stale, ignore_errors=True)
    partial = out.with_name(f"{out.name}.partial-{os.getpid()}")  # this run's own
    write_cohort(
        partial,
        n,
        seed,
        images=True,
        workers=1,
        progress=(lambda d, t: progress("rendering images", d, t)) if progress else None,
        command=command,
    )
    result = predict(partial, model_dir, progress=progress)
    try:
        partial.rename(out)
    except OSError:
        shutil.rmtree(partial, ignore_errors=True)
        raise InvalidArgument(f"{out.name} was generated by another job meanwhile") from None
    return result


def _running(pid: str) -> bool:
    """Whether a process with this id runs (a generating job's own partial folder)."""
    try:
        os.kill(int(pid), 0)
    except (ValueError, ProcessLookupError):
        return False
    except PermissionError:
        return True
    return True


def predict(
    folder: Path,
    model_dir: Path,
    explainer: Explainer | None = None,
    progress: Callable[[str, int, int], None] | None = None,
) -> BatchResult:
    """Predict every case of a cohort on its MRI and keep the result beside it."""
    result = predict_cohort(
        model_dir,
        folder,
        image="mri",
        explainer=explainer,
        progress=(lambda d, t: progress("predicting", d, t)) if progress else None,
    )
    save_predictions(folder, result)
    return result


def cards(cohort: Cohort, batch: BatchResult | None) -> list[Card]:
    """One card per case of a phantom cohort, with the batch's answer where it has one.

    Raises:
        InvalidArgument: the cohort has no truth (not a phantom).
    """
    truth = truth_table(cohort).set_index("case_id")
    outcomes = (
        dict(zip(cohort.outcomes["case_id"], cohort.outcomes["response"]))
        if cohort.outcomes is not None
        else {}
    )
    answers = {row.case_id: row for row in batch.rows} if batch is not None else {}
    out = []
    for case_id in cohort.case_ids:
        row = answers.get(case_id)
        outcome = str(outcomes.get(case_id, ""))
        predicted = row.predicted if row is not None else None
        status = row.status if row is not None else "not predicted"
        judged = predicted is not None and status == "predicted" and outcome != ""
        right = predicted == outcome if judged else None
        out.append(
            Card(
                case_id,
                str(truth.loc[case_id, "subtype"]) if case_id in truth.index else "unknown",
                outcome,
                predicted,
                status,
                right,
                row.probabilities if row is not None else None,
            )
        )
    return out


def select(
    items: Sequence[Card],
    subtypes: Sequence[str] = (),
    outcomes: Sequence[str] = (),
    correctness: str = "any",
) -> list[Card]:
    """The cards that pass the filters (an empty list of subtypes or outcomes passes all).

    Raises:
        InvalidArgument: an unknown outcome or correctness filter.
    """
    unknown = [o for o in outcomes if o not in OUTCOMES]
    if unknown:
        raise InvalidArgument(f"outcome '{unknown[0]}' is not one of {', '.join(OUTCOMES)}")
    if correctness not in CORRECTNESS:
        raise InvalidArgument(f"correctness '{correctness}' is not one of {', '.join(CORRECTNESS)}")
    return [
        c
        for c in items
        if (not subtypes or c.subtype in subtypes)
        and (not outcomes or c.outcome in outcomes)
        and (correctness == "any" or c.verdict == correctness)
    ]
