"""The bundled model in models/: its weights match its card, the card says what it was trained
on, and it predicts the bundled examples."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from mmcrnet.checkpoint import load_model
from mmcrnet.cohort import load_cohort
from mmcrnet.io import read_paths
from mmcrnet.predict import ClinicalCase, Predictor

MODELS = Path(__file__).resolve().parent.parent / "models"


@pytest.mark.parametrize(
    "folder", [MODELS, *sorted((MODELS / "variants").iterdir())], ids=lambda p: p.name
)
def test_weights_match_their_card(folder: Path) -> None:
    _, card = load_model(folder)  # raises on a SHA-256 mismatch
    assert card["synthetic"] is True and "phantom" in card["training_data"]
    assert card["intended_use"] == "Research use only — not for clinical decisions."
    assert card["training_source"] == {"kind": "phantom", "n": 5000, "seed": 7}


def test_bundled_model_predicts_the_examples(examples_dir: Path) -> None:
    predictor = Predictor(MODELS, device="cpu")
    cohort = load_cohort(examples_dir)
    correct = 0
    for case_id in cohort.case_ids:
        clinical = ClinicalCase.from_tables(cohort.cases, cohort.timepoints, case_id)
        study = read_paths([examples_dir / "images" / case_id / "mri"])
        prediction = predictor.predict(clinical, study)
        assert np.isclose(sum(prediction.probabilities.values()), 1.0)
        truth = cohort.outcomes.set_index("case_id").loc[case_id, "response"]
        correct += prediction.label == truth
    assert correct >= 7  # of 12; the test set accuracy is 0.79
