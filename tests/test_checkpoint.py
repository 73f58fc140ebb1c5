from __future__ import annotations

import json
import shutil
import struct
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from mmcrnet.checkpoint import InvalidModel, load_model, read_card, sha256_of
from mmcrnet.guard import EmbeddingDensity, Guard, ImageDensity


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


def _copy(tiny_model_dir: Path, folder: Path) -> Path:
    shutil.copytree(tiny_model_dir, folder, ignore=shutil.ignore_patterns("checkpoint"))
    return folder


def _replace_weights(folder: Path, data: bytes) -> None:
    """Write ``data`` as model.safetensors and record its hash, so loading reaches the parse."""
    (folder / "model.safetensors").write_bytes(data)
    card = json.loads((folder / "model.json").read_text())
    card["weights"]["sha256"] = sha256_of(folder / "model.safetensors")
    (folder / "model.json").write_text(json.dumps(card))


@pytest.mark.parametrize(
    "header",
    [struct.pack("<Q", 1 << 60) + b"{}", struct.pack("<Q", 6) + b"{nope}", b"\x00" * 4],
    ids=["huge-length", "garbage-json", "truncated"],
)
def test_broken_safetensors_header(tiny_model_dir: Path, tmp_path: Path, header: bytes) -> None:
    folder = _copy(tiny_model_dir, tmp_path / "model")
    _replace_weights(folder, header)
    with pytest.raises(
        InvalidModel, match=r"^model\.safetensors: not a safetensors file \("
    ) as info:
        load_model(folder)
    assert "\n" not in str(info.value) and str(tmp_path) not in str(info.value)


@pytest.mark.parametrize(
    "edit, words",
    [
        (lambda card: card.pop("config"), "model.json: no 'config'"),
        (lambda card: card.pop("temperature"), "model.json: no 'temperature'"),
        (lambda card: card.update(temperature="warm"), "model.json: 'temperature' is not a number"),
        (lambda card: card.update(weights=[]), "model.json: 'weights' is not a JSON object"),
        (lambda card: card["config"].update(variant="x"), "model.json: config: variant 'x' is"),
        (lambda card: card["config"].pop("image_size"), "model.json: config: "),
    ],
)
def test_card_without_what_loading_needs(
    tiny_model_dir: Path, tmp_path: Path, edit: Callable[[dict[str, Any]], object], words: str
) -> None:
    folder = _copy(tiny_model_dir, tmp_path / "model")
    card = json.loads((folder / "model.json").read_text())
    edit(card)
    (folder / "model.json").write_text(json.dumps(card))
    with pytest.raises(InvalidModel) as info:
        load_model(folder)
    assert str(info.value).startswith(words) and "\n" not in str(info.value)


@pytest.mark.parametrize(
    "text, words",
    [
        ("[" * 100_000 + "]" * 100_000, "model.json: nested too deeply"),
        ('{"n": ' + "9" * 5000 + "}", "model.json: not valid JSON (a number with too many digits)"),
        ("[1, 2]", "model.json: not a JSON object"),
    ],
)
def test_card_that_is_not_a_json_object(tmp_path: Path, text: str, words: str) -> None:
    (tmp_path / "model.json").write_text(text)
    with pytest.raises(InvalidModel) as info:
        read_card(tmp_path)
    assert str(info.value).startswith(words) and "\n" not in str(info.value)


def _small_guard(folder: Path) -> None:
    """A one-kind, one-layer guard for a model whose card only has its weights' hash."""
    (folder / "model.json").write_text(json.dumps({"weights": {"sha256": "ab" * 32}}))
    layer = EmbeddingDensity(np.zeros(2), np.eye(2), 1.0)
    card = {
        "model_sha256": "ab" * 32,
        "layers": ["block1"],
        "thresholds": {"mri": 3.0},
        "feature_ranges": {"age": [24.0, 85.0]},
    }
    Guard({"mri": ImageDensity({"block1": layer}, 3.0)}, {"age": (24.0, 85.0)}, card).save(folder)


def test_guard_with_a_broken_safetensors_header(tmp_path: Path) -> None:
    _small_guard(tmp_path)
    (tmp_path / "guard.safetensors").write_bytes(struct.pack("<Q", 1 << 60) + b"{}")
    card = json.loads((tmp_path / "guard.json").read_text())
    card["weights"]["sha256"] = sha256_of(tmp_path / "guard.safetensors")
    (tmp_path / "guard.json").write_text(json.dumps(card))
    with pytest.raises(InvalidModel, match=r"^guard\.safetensors: not a safetensors file \("):
        Guard.load(tmp_path)


@pytest.mark.parametrize("key", ["layers", "thresholds", "feature_ranges", "weights"])
def test_guard_card_without_what_loading_needs(tmp_path: Path, key: str) -> None:
    _small_guard(tmp_path)
    card = json.loads((tmp_path / "guard.json").read_text())
    del card[key]
    (tmp_path / "guard.json").write_text(json.dumps(card))
    with pytest.raises(InvalidModel, match=f"^guard.json: no '{key}'$"):
        Guard.load(tmp_path)


def test_guard_card_that_is_nested_too_deeply(tmp_path: Path) -> None:
    _small_guard(tmp_path)
    (tmp_path / "guard.json").write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(InvalidModel, match="^guard.json: nested too deeply"):
        Guard.load(tmp_path)
