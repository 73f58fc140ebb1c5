"""Training on a small phantom cohort: it learns, it is deterministic, it resumes, and the
trained model handles every missing-modality combination."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from mmcrnet.checkpoint import load_model
from mmcrnet.data import MAMMOGRAM, MRI, NO_IMAGE
from mmcrnet.datasets import split_rows, subset
from mmcrnet.evaluate import LoadedModel, model_probabilities
from mmcrnet.metrics import scores
from mmcrnet.train import TrainConfig, train_model
from tests.conftest import TINY_MODEL


def test_tiny_model_learns_clearly_above_chance(tiny_model_dir: Path, phantom_cases) -> None:
    loaded = LoadedModel(*load_model(tiny_model_dir))
    _, val_rows, test_rows = split_rows(phantom_cases.n, 1)
    held_out = subset(phantom_cases, np.concatenate([val_rows, test_rows]))
    result = scores(held_out.labels, model_probabilities(loaded, held_out))
    assert result.auc > 0.75 and result.accuracy > 0.55  # chance: AUC 0.5, accuracy ~0.38


def test_card_describes_the_model(tiny_model_dir: Path) -> None:
    card = json.loads((tiny_model_dir / "model.json").read_text())
    assert card["intended_use"] == "Research use only — not for clinical decisions."
    assert card["synthetic"] is True and "phantom" in card["training_data"]
    assert card["training_source"] == {"kind": "phantom", "n": 300, "seed": 5}
    assert card["split"]["train"] + card["split"]["validation"] + card["split"]["test"] == 300
    assert card["temperature"] > 0 and len(card["history"]) == card["epochs_run"]
    assert {"uncalibrated", "calibrated"} <= set(card["validation"])
    assert len(card["weights"]["sha256"]) == 64
    assert card["config"]["cnn_channels"] == [4, 8]


@pytest.mark.parametrize("kind", [MRI, MAMMOGRAM, NO_IMAGE])
@pytest.mark.parametrize("length", [1, 4])
def test_every_missing_modality_combination_predicts(
    tiny_model_dir: Path, phantom_cases, kind: int, length: int
) -> None:
    loaded = LoadedModel(*load_model(tiny_model_dir))
    few = subset(phantom_cases, np.arange(12))
    proba = model_probabilities(loaded, few, kinds=np.full(12, kind), lengths=np.full(12, length))
    assert proba.shape == (12, 3) and np.allclose(proba.sum(axis=1), 1.0)


def test_same_seed_same_weights_and_resume_continues(phantom_cases, tmp_path: Path) -> None:
    small = subset(phantom_cases, np.arange(80))
    config = TrainConfig(seed=3, epochs=2, patience=5, threads=2, model_overrides=TINY_MODEL)
    train_model(small, tmp_path / "a", config, device="cpu")
    train_model(small, tmp_path / "b", config, device="cpu")
    a = load_file(str(tmp_path / "a" / "model.safetensors"))
    b = load_file(str(tmp_path / "b" / "model.safetensors"))
    assert all(np.array_equal(a[k].numpy(), b[k].numpy()) for k in a)
    # Asking for a third epoch resumes from the checkpoint instead of starting again.
    card = train_model(
        small, tmp_path / "a", TrainConfig(**{**config.__dict__, "epochs": 3}), device="cpu"
    )
    first = json.loads((tmp_path / "b" / "model.json").read_text())["history"]
    assert len(card["history"]) == 3 and card["history"][:2] == [
        {**h, "seconds": card["history"][i]["seconds"]} for i, h in enumerate(first)
    ]


def test_training_without_outcomes_is_refused(phantom_cases, tmp_path: Path) -> None:
    from dataclasses import replace

    with pytest.raises(ValueError, match="needs outcomes"):
        train_model(replace(phantom_cases, labels=None), tmp_path, TrainConfig())


def test_max_pooling_is_trained_recorded_and_loaded(phantom_cases, tmp_path: Path) -> None:
    small = subset(phantom_cases, np.arange(40))
    card = train_model(
        small,
        tmp_path,
        TrainConfig(
            seed=2, epochs=1, threads=2, model_overrides={**TINY_MODEL, "image_pooling": "max"}
        ),
        device="cpu",
    )
    assert card["config"]["image_pooling"] == "max"
    model, _ = load_model(tmp_path)
    assert model.config.image_pooling == "max"
    assert isinstance(model.mri_encoder.pool, torch.nn.AdaptiveMaxPool2d)
