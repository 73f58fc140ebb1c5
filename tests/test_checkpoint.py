from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from mmcrnet.checkpoint import InvalidModel, load_model, read_card


def test_weights_hash_is_checked(tiny_model_dir: Path, tmp_path: Path) -> None:
    copy = tmp_path / "model"
    shutil.copytree(tiny_model_dir, copy, ignore=shutil.ignore_patterns("checkpoint"))
    model, card = load_model(copy)
    assert card["config"]["variant"] == "mmcrnet" and not model.training
    data = bytearray((copy / "model.safetensors").read_bytes())
    data[-1] ^= 0xFF
    (copy / "model.safetensors").write_bytes(bytes(data))
    with pytest.raises(InvalidModel, match="does not match the card"):
        load_model(copy)


def test_missing_or_broken_card(tmp_path: Path) -> None:
    with pytest.raises(InvalidModel, match="not a model folder"):
        read_card(tmp_path)
    (tmp_path / "model.json").write_text("{broken")
    with pytest.raises(InvalidModel, match="not valid JSON"):
        read_card(tmp_path)


def test_no_pickle_files_are_written(tiny_model_dir: Path) -> None:
    suffixes = {p.suffix for p in tiny_model_dir.rglob("*") if p.is_file()}
    assert suffixes <= {".safetensors", ".json"}
