"""Training with torch.distributed: two CPU processes started by torchrun (gloo) reach the
validation metrics of one process, and each process trains on its share of every batch."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np

from mmcrnet.distributed import Ranks
from mmcrnet.train import TrainConfig, train_model


def test_shares_cover_a_batch_once_in_order() -> None:
    rows = np.arange(100, 133)  # 33 cases in a batch
    shares = [Ranks(rank, 2).share(rows) for rank in range(2)]
    assert [len(s) for s in shares] == [17, 16]
    assert np.array_equal(np.concatenate(shares), np.arange(33))
    assert Ranks().share(rows).tolist() == list(range(33))


def test_two_processes_reach_the_metrics_of_one(
    phantom_cases, phantom_cache: Path, tmp_path: Path
) -> None:
    epochs = 3
    alone = train_model(
        phantom_cases, tmp_path / "one", TrainConfig(seed=5, epochs=epochs, threads=2)
    )
    command = [
        *(sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2"),
        *("-m", "mmcrnet", "train", "--phantom", "300", "--seed", "5", "--epochs", str(epochs)),
        *("--cache", str(phantom_cache), "--out", str(tmp_path / "two")),
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    printed = json.loads(done.stdout)  # only the main process prints
    card = json.loads((tmp_path / "two" / "model.json").read_text())
    assert card["hardware"]["processes"] == 2 and alone["hardware"]["processes"] == 1
    assert card["epochs_run"] == alone["epochs_run"] == epochs
    assert printed["validation"] == card["validation"]["calibrated"]
    for one, two in zip(alone["history"], card["history"], strict=True):
        # the same batches and draws; only BatchNorm statistics over each process's share,
        # dropout masks and the order of float sums differ
        assert abs(one["train_loss"] - two["train_loss"]) < 0.03
        assert abs(one["val_loss"] - two["val_loss"]) < 0.05
        assert abs(one["val_auc"] - two["val_auc"]) < 0.05
        assert abs(one["val_accuracy"] - two["val_accuracy"]) < 0.1
    assert not (tmp_path / "two" / "checkpoint" / "checkpoint.safetensors.partial").exists()
