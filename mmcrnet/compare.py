"""Two models on the same held-out cases: a newly trained model against a reference (the
bundled model by default), on the new model's own test split, so that the comparison is fair
to the new model and says when it cannot be fair to the reference (its training data overlaps).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mmcrnet.checkpoint import load_model, read_card
from mmcrnet.curves import curves
from mmcrnet.datasets import CaseSet, split_rows, subset
from mmcrnet.evaluate import LoadedModel, model_probabilities
from mmcrnet.metrics import scores


@dataclass(frozen=True)
class Comparison:
    """Both models' metrics (and curves) on the same cases, and what to keep in mind."""

    cases: str
    n: int
    models: dict[str, dict[str, Any]]
    notes: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"cases": self.cases, "n": self.n, "models": self.models, "notes": list(self.notes)}


def held_out_split(card: dict[str, Any], cases: CaseSet) -> CaseSet:
    """The test split a model's card records, of its own training cohort ``cases``."""
    split = card["split"]
    _, _, test_rows = split_rows(cases.n, int(split["seed"]), tuple(split["fractions"]))
    return subset(cases, test_rows)


def _overlap(new: dict[str, Any], reference: dict[str, Any]) -> str | None:
    """Why the reference may have trained on the new model's test cases, if it may have."""
    a, b = new.get("training_source", {}), reference.get("training_source", {})
    if a.get("kind") == "phantom" and a == b:
        return (
            "the reference was trained on the same phantom cohort: its scores here are not held out"
        )
    if a.get("kind") == "cohort" and a.get("path") == b.get("path"):
        return (
            "the reference was trained on the same cohort folder: its scores here are not held out"
        )
    return None


def compare_models(new_dir: Path, reference_dir: Path, cases: CaseSet) -> Comparison:
    """Score the model in ``new_dir`` and the one in ``reference_dir`` on the test split of
    ``cases`` (``new_dir``'s training cohort), in its main condition (full sequences, MRI).

    Raises:
        ValueError: ``cases`` has no outcomes.
    """
    new_card = read_card(new_dir)
    test = held_out_split(new_card, cases)
    if test.labels is None:
        raise ValueError("the cohort has no outcomes to compare on")
    y = test.outcomes
    models: dict[str, dict[str, Any]] = {}
    for role, folder in (("new", new_dir), ("reference", reference_dir)):
        loaded = LoadedModel(*load_model(Path(folder), "cpu"))
        proba = model_probabilities(loaded, test)
        models[role] = {
            "folder": Path(folder).name,
            "name": loaded.card.get("name"),
            "training_data": loaded.card.get("training_data"),
            "metrics": scores(y, proba).to_dict(),
            "curves": curves(y, proba).to_dict(),
        }
    notes = [f"{test.n} held-out cases of {cases.description}"]
    overlap = _overlap(new_card, read_card(reference_dir))
    if overlap:
        notes.append(overlap)
    if test.n < 30:
        notes.append(f"only {test.n} test cases: the difference is mostly noise")
    return Comparison(cases.description, test.n, models, tuple(notes))
