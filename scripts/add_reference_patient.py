"""Add the reference patient (the baseline of sequence attributions) to model cards trained
before it existed: rebuilds the model's training split from the card's training source and
seed, and inserts ``reference_patient`` after ``temperature``. The weights are untouched.

    python scripts/add_reference_patient.py models models/variants/*
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from mmcrnet.datasets import split_rows
from mmcrnet.explain.sequence import reference_patient
from mmcrnet.phantom.cohort import generate_cohort


def add_reference(folder: Path) -> None:
    card = json.loads((folder / "model.json").read_text())
    source, split = card["training_source"], card["split"]
    if source["kind"] != "phantom":
        raise SystemExit(f"{folder}: trained on {source['kind']} data; retrain it instead")
    cohort = generate_cohort(int(source["n"]), int(source["seed"]))
    train_rows, _, _ = split_rows(cohort.n, int(split["seed"]), tuple(split["fractions"]))
    ids = set(cohort.cases["case_id"].iloc[train_rows])
    reference = reference_patient(cohort.cases.iloc[train_rows],
                                  cohort.timepoints[cohort.timepoints["case_id"].isin(ids)],
                                  tuple(card["config"]["groups"]))
    updated: dict[str, object] = {}
    for key, value in card.items():
        if key != "reference_patient":
            updated[key] = value
        if key == "temperature":
            updated["reference_patient"] = reference
    (folder / "model.json").write_text(json.dumps(updated, indent=2) + "\n")
    print(f"{folder}: reference patient from {len(train_rows)} training cases")


if __name__ == "__main__":
    for argument in sys.argv[1:]:
        add_reference(Path(argument))
