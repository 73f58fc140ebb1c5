"""Model files: weights as safetensors, everything else as a JSON model card. Never pickle.

DIR/model.safetensors   the state dict
DIR/model.json          the card: config, temperature, training data, metrics, versions,
                        and the SHA-256 of model.safetensors (checked on every load)
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from mmcrnet.errors import OncoPredictError
from mmcrnet.jsonsafe import dumps
from mmcrnet.model import MMCRNet, ModelConfig

WEIGHTS, CARD = "model.safetensors", "model.json"

_Entry = TypeVar("_Entry")
_KIND_NAMES: dict[type, str] = {dict: "a JSON object", list: "a JSON array", str: "text"}


class InvalidModel(OncoPredictError):
    """A model folder is missing a file, or its weights do not match the card."""


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def save_model(folder: Path, model: MMCRNet, card: dict[str, Any]) -> dict[str, Any]:
    """Write the weights and the card (with the config and the weights' hash); returns the card."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    save_file(state, str(folder / WEIGHTS), metadata={"format": "pt"})
    card = {
        **card,
        "config": model.config.to_dict(),
        "weights": {
            "file": WEIGHTS,
            "sha256": sha256_of(folder / WEIGHTS),
            "parameters": int(sum(p.numel() for p in model.parameters())),
        },
    }
    text = dumps(card, indent=2)  # strict JSON: an undefined metric is null, never NaN
    (folder / CARD).write_text(text + "\n")
    return dict(json.loads(text))  # what was written, as read back


def read_json_object(path: Path) -> dict[str, Any]:
    """A card (model.json, guard.json) as a JSON object.

    Raises:
        InvalidModel: not UTF-8 JSON, nested too deeply, or not an object; the message names
            the file (its name only: the app shows it).
    """
    name = path.name
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise InvalidModel(f"{name}: not valid JSON ({exc.msg} at line {exc.lineno})") from None
    except UnicodeDecodeError as exc:
        raise InvalidModel(f"{name}: not UTF-8 text (byte {exc.start})") from None
    except ValueError:  # an integer past Python's int-from-text digit limit
        raise InvalidModel(f"{name}: not valid JSON (a number with too many digits)") from None
    except RecursionError:
        raise InvalidModel(f"{name}: nested too deeply to be a card") from None
    if not isinstance(data, dict):
        raise InvalidModel(f"{name}: not a JSON object (found a {type(data).__name__})")
    return data


def card_entry(card: Mapping[str, Any], file: str, key: str, kind: type[_Entry]) -> _Entry:
    """``card[key]``, checked to be a ``kind``.

    Raises:
        InvalidModel: the key is absent or holds something else (named with ``file``).
    """
    if key not in card:
        raise InvalidModel(f"{file}: no '{key}'")
    value = card[key]
    if not isinstance(value, kind):
        raise InvalidModel(f"{file}: '{key}' is not {_KIND_NAMES.get(kind, kind.__name__)}")
    return value


def weights_sha256(card: Mapping[str, Any], file: str) -> str:
    """The card's ``weights.sha256``.

    Raises:
        InvalidModel: absent, or not text.
    """
    weights: dict[str, Any] = card_entry(card, file, "weights", dict)
    return card_entry(weights, f"{file} weights", "sha256", str)


def read_card(folder: Path) -> dict[str, Any]:
    """``folder``'s model.json.

    Raises:
        InvalidModel: no card, or one that is not a JSON object.
    """
    path = Path(folder) / CARD
    if not path.is_file():
        raise InvalidModel(f"{folder}: no {CARD} (not a model folder)")
    return read_json_object(path)


def load_model(folder: Path, device: str | torch.device = "cpu") -> tuple[MMCRNet, dict[str, Any]]:
    """The model and its card, after checking the weights' SHA-256 against the card.

    Raises:
        InvalidModel: missing files, a card without a valid config, temperature or hash, a hash
            mismatch, weights that are not safetensors, or weights that do not fit the config.
    """
    folder = Path(folder)
    card = read_card(folder)
    config: dict[str, Any] = card_entry(card, CARD, "config", dict)
    temperature = card_entry(card, CARD, "temperature", object)
    if isinstance(temperature, bool) or not isinstance(temperature, (int, float)):
        raise InvalidModel(f"{CARD}: 'temperature' is not a number")
    expected = weights_sha256(card, CARD)
    weights = folder / WEIGHTS
    if not weights.is_file():
        raise InvalidModel(f"{folder}: no {WEIGHTS}")
    actual = sha256_of(weights)
    if expected != actual:
        raise InvalidModel(
            f"{WEIGHTS}: SHA-256 {actual[:12]}... does not match the card's {expected[:12]}..."
        )
    try:
        model_config = ModelConfig.from_dict(config)
    except (TypeError, ValueError) as exc:  # a key missing, unknown or of the wrong kind
        raise InvalidModel(f"{CARD}: config: {exc}") from None
    model = MMCRNet(model_config)
    try:
        state = load_file(str(weights))
    except SafetensorError as exc:
        raise InvalidModel(f"{WEIGHTS}: not a safetensors file ({exc})") from None
    try:
        model.load_state_dict(state)
    except RuntimeError as exc:
        raise InvalidModel(
            f"{WEIGHTS}: weights do not fit the card's config ({str(exc).splitlines()[0]})"
        ) from None
    model.to(device).eval()
    return model, card
