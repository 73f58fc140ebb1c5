"""Training on a small phantom cohort: it learns, it is deterministic, it resumes (even after a
SIGKILL) exactly where it stopped, and the trained model handles every missing-modality
combination."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from safetensors import safe_open
from safetensors.torch import load_file

from mmcrnet.checkpoint import load_model
from mmcrnet.data import MAMMOGRAM, MRI, NO_IMAGE
from mmcrnet.datasets import split_rows, subset
from mmcrnet.errors import CorruptCheckpoint
from mmcrnet.evaluate import LoadedModel, model_probabilities
from mmcrnet.metrics import scores
from mmcrnet.train import CHECKPOINT, TrainConfig, train_model
from tests.conftest import ROOT, TINY_MODEL


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
    # DataLoader workers read the images; the draws are made before them: the same weights
    train_model(small, tmp_path / "b", replace(config, loader_workers=2), device="cpu")
    a = load_file(str(tmp_path / "a" / "model.safetensors"))
    b = load_file(str(tmp_path / "b" / "model.safetensors"))
    assert all(np.array_equal(a[k].numpy(), b[k].numpy()) for k in a)
    # Asking for a third epoch resumes from the checkpoint instead of starting again.
    card = train_model(
        small, tmp_path / "a", TrainConfig(**{**config.__dict__, "epochs": 3}), device="cpu"
    )
    first = json.loads((tmp_path / "b" / "model.json").read_text())["history"]
    assert card["resumed_at_epochs"] == [2]
    assert len(card["history"]) == 3 and card["history"][:2] == [
        {**h, "seconds": card["history"][i]["seconds"]} for i, h in enumerate(first)
    ]


def _train_command(out: Path, cache: Path) -> list[str]:
    """The CLI on 24 phantom cases (16 train: one batch an epoch), 2 threads, up to 4 epochs;
    patience 2, so the early-stopping and learning-rate plateau counters are in play (this
    cohort's best epoch is 1, so the run stops after epoch 3 on a patience count of 2)."""
    return [
        *(sys.executable, "-m", "mmcrnet", "train", "--phantom", "24", "--seed", "3"),
        *("--epochs", "4", "--patience", "2", "--device", "cpu", "--threads", "2"),
        *("--workers", "2", "--cache", str(cache), "--out", str(out)),
    ]


def _run_to_the_end(command: list[str]) -> dict[str, Any]:
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads((Path(command[-1]) / "model.json").read_text())


def _checkpoint_epoch(path: Path) -> int:
    """The last epoch a checkpoint holds; 0 while there is none (it appears only whole)."""
    if not path.is_file():
        return 0
    with safe_open(str(path), framework="pt") as handle:
        return int(json.loads(handle.metadata()["state"])["progress"]["epoch"])


def _without_timings(card: dict[str, Any]) -> str:
    """The card as JSON (so NaN metrics compare equal) without what wall time and the machine
    decide."""
    drop = ("training_seconds", "hardware", "resumed_at_epochs")
    history = [{k: v for k, v in h.items() if k != "seconds"} for h in card["history"]]
    return json.dumps({**{k: v for k, v in card.items() if k not in drop}, "history": history})


def test_training_killed_midway_resumes_to_the_uninterrupted_result(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    reference = _run_to_the_end(_train_command(tmp_path / "whole", cache))  # renders the cache
    assert reference["epochs_run"] >= 3  # patience 2: epoch 1 always improves on nothing

    # The same command, SIGKILLed once epoch 2's checkpoint is on disk (after an epoch without
    # improvement here, so the patience counter is not 0), before the run can finish.
    command = _train_command(tmp_path / "killed", cache)
    checkpoint = tmp_path / "killed" / "checkpoint" / CHECKPOINT
    with (tmp_path / "killed.log").open("w") as log:
        process = subprocess.Popen(command, cwd=ROOT, stdout=log, stderr=log)
        deadline = time.monotonic() + 600  # a hang guard only
        while (
            _checkpoint_epoch(checkpoint) < 2
            and process.poll() is None
            and time.monotonic() < deadline
        ):
            time.sleep(0.01)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
    log_tail = (tmp_path / "killed.log").read_text()[-2000:]
    assert process.returncode == -signal.SIGKILL, log_tail  # killed, not finished or failed
    assert not (tmp_path / "killed" / "model.json").exists()
    killed_at = _checkpoint_epoch(checkpoint)
    assert killed_at >= 2

    resumed = _run_to_the_end(command)
    assert resumed["resumed_at_epochs"] == [killed_at] and killed_at < resumed["epochs_run"]
    assert (resumed["epochs_run"], resumed["best_epoch"]) == (
        reference["epochs_run"],
        reference["best_epoch"],
    )
    assert json.dumps(resumed["validation"]) == json.dumps(reference["validation"])  # NaN too
    # ... and everything else: history, temperature, the weights' SHA-256, the config.
    assert _without_timings(resumed) == _without_timings(reference)
    a = load_file(str(tmp_path / "whole" / "model.safetensors"))
    b = load_file(str(tmp_path / "killed" / "model.safetensors"))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)  # bitwise


def _one_epoch(phantom_cases, out: Path, epochs: int = 1) -> dict[str, Any]:
    small = subset(phantom_cases, np.arange(40))
    config = TrainConfig(seed=4, epochs=epochs, threads=2, model_overrides=TINY_MODEL)
    return train_model(small, out, config, device="cpu")


@pytest.mark.parametrize(
    "damage",
    [
        pytest.param(lambda data: data[: len(data) // 2], id="truncated"),
        pytest.param(lambda data: data[:5], id="header-cut"),
        pytest.param(lambda data: b"", id="empty"),
        pytest.param(lambda data: b"not a checkpoint" * 4, id="garbage"),
    ],
)
def test_damaged_checkpoint_is_refused_in_one_line(
    phantom_cases, tmp_path: Path, damage: Any
) -> None:
    _one_epoch(phantom_cases, tmp_path)
    checkpoint = tmp_path / "checkpoint" / CHECKPOINT
    damaged = damage(checkpoint.read_bytes())
    checkpoint.write_bytes(damaged)
    with pytest.raises(CorruptCheckpoint, match="unreadable checkpoint.*delete") as refused:
        _one_epoch(phantom_cases, tmp_path, epochs=2)
    assert "\n" not in str(refused.value) and str(checkpoint) in str(refused.value)
    assert checkpoint.read_bytes() == damaged  # refused, not overwritten with a fresh epoch 1


def test_a_write_cut_short_leaves_the_previous_checkpoint(
    phantom_cases, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _one_epoch(phantom_cases, tmp_path)

    class Killed(Exception):
        """Stands for a SIGKILL halfway through writing epoch 2's checkpoint."""

    def half_written(tensors: dict[str, torch.Tensor], filename: str, **_: Any) -> None:
        Path(filename).write_bytes(b"\x00" * 100)
        raise Killed

    monkeypatch.setattr("mmcrnet.train.save_file", half_written)
    with pytest.raises(Killed):
        _one_epoch(phantom_cases, tmp_path, epochs=2)
    monkeypatch.undo()
    card = _one_epoch(phantom_cases, tmp_path, epochs=2)
    assert card["resumed_at_epochs"] == [1] and card["epochs_run"] == 2


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


def test_input_lasso_shrinks_the_lstm_input_weights(phantom_cases, tmp_path: Path) -> None:
    """The group lasso is in the loss: the same run with it ends with smaller input-weight
    column norms than without, and the card records its weight."""
    small = subset(phantom_cases, np.arange(40))

    def column_norms(lasso: float, folder: Path) -> float:
        card = train_model(
            small,
            folder,
            TrainConfig(
                seed=2,
                epochs=2,
                threads=2,
                learning_rate=5e-2,
                input_lasso=lasso,
                model_overrides={**TINY_MODEL, "image_pooling": "attention"},
            ),
            device="cpu",
        )
        assert card["train_config"]["input_lasso"] == lasso
        model, _ = load_model(folder)
        return float(model.lstm.weight_ih_l0.detach().norm(dim=0).sum())

    assert column_norms(5.0, tmp_path / "lasso") < 0.8 * column_norms(0.0, tmp_path / "plain")


def test_withholding_draws_only_what_the_variant_reads() -> None:
    from mmcrnet.data import LAYOUT, model_config
    from mmcrnet.train import TrainConfig, withhold

    diameter = LAYOUT.columns_of("tumor_diameter_cm")
    genomic, clinical = LAYOUT.group_mask("genomic"), LAYOUT.group_mask("clinical")
    rng = np.random.default_rng(0)
    full = np.ones((200, 4, LAYOUT.width), dtype=np.float32)

    only_diameter = TrainConfig(genomic_drop_p=0, clinical_drop_p=0, diameter_drop_p=1)
    seq = full.copy()
    withhold(seq, model_config(), only_diameter, rng)
    assert (seq[:, :, diameter] == 0).all()
    assert (np.delete(seq, diameter, axis=2) == 1).all()  # nothing else touched

    half = TrainConfig(genomic_drop_p=0.5, clinical_drop_p=0.5, diameter_drop_p=0)
    seq = full.copy()
    withhold(seq, model_config(), half, rng)
    genomic_gone = (seq[:, :, genomic] == 0).all(axis=(1, 2))
    clinical_gone = (seq[:, :, clinical] == 0).all(axis=(1, 2))
    assert 0.35 < genomic_gone.mean() < 0.65 and 0.35 < clinical_gone.mean() < 0.65
    assert not np.array_equal(genomic_gone, clinical_gone)  # independent draws

    seq = full.copy()
    withhold(
        seq,
        model_config("no-genomic"),
        TrainConfig(genomic_drop_p=1, clinical_drop_p=0, diameter_drop_p=0),
        rng,
    )
    assert (seq == 1).all()  # a variant without genomic data has none to withhold


def test_a_cohort_too_small_to_split_is_refused_or_warned(
    phantom_cases, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """20 cases: a 3-case validation split warns and keeps temperature 1 (not 19.99); the
    4-case cohort cannot be split: refused in one line."""
    from mmcrnet.__main__ import main
    from mmcrnet.errors import InvalidArgument
    from mmcrnet.train import split_warnings

    labels = np.array([0, 1, 2] * 4)
    warnings = split_warnings(labels, np.arange(10), np.array([10, 11]))
    assert "validation split has 2 cases (of 12)" in warnings[0]
    assert "validation split has no 'pCR' case" in warnings[1]  # labels 1, 2
    with pytest.raises(InvalidArgument, match="training split would have 2 cases"):
        split_warnings(np.array([0, 0, 1, 2]), np.array([0, 1]), np.array([2, 3]))
    with pytest.raises(InvalidArgument, match="the training split has no 'none' case"):
        split_warnings(np.array([0, 1] * 6), np.arange(10), np.array([10, 11]))
    card = train_model(
        subset(phantom_cases, np.arange(20)),
        tmp_path / "small",
        TrainConfig(seed=2, epochs=1, threads=2, model_overrides=TINY_MODEL),
        device="cpu",
    )
    assert card["calibrated"] is False and card["temperature"] == 1.0 and card["warnings"]
    json.dumps(card, allow_nan=False)
    code = main(
        [
            "train",
            "--cohort",
            str(_first_examples(tmp_path, 4)),
            "--seed",
            "1",
            "--out",
            str(tmp_path / "m"),
        ]
    )
    assert code == 2 and "too small to train on" in capsys.readouterr().err


def _first_examples(tmp_path: Path, n: int) -> Path:
    """The first ``n`` bundled examples as a cohort folder."""
    import pandas as pd

    source = ROOT / "assets" / "examples"
    out = tmp_path / f"first-{n}"
    out.mkdir()
    cases = pd.read_csv(source / "cases.csv", dtype=str, keep_default_na=False)
    ids = set(cases["case_id"][:n])
    for name in ("cases.csv", "timepoints.csv", "outcomes.csv"):
        table = pd.read_csv(source / name, dtype=str, keep_default_na=False)
        table[table["case_id"].isin(ids)].to_csv(out / name, index=False)
    return out
