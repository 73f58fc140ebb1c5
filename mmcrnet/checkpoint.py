"""Model files: weights as safetensors, everything else as a JSON model card. Never pickle.

DIR/model.safetensors   the state dict
DIR/model.json          the card: config, temperature, training data, metrics, versions,
                        and the SHA-256 of model.safetensors (checked on every load)
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from mmcrnet.errors import OncoPredictError
from mmcrnet.model import MMCRNet, ModelConfig

WEIGHTS, CARD = "model.safetensors", "model.json"


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
    (folder / CARD).write_text(json.dumps(card, indent=2, sort_keys=False) + "\n")
    return card


def read_card(folder: Path) -> dict[str, Any]:
    path = Path(folder) / CARD
    if not path.is_file():
        raise InvalidModel(f"{folder}: no {CARD} (not a model folder)")
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise InvalidModel(f"{path}: not valid JSON ({exc.msg} at line {exc.lineno})") from None


def load_model(folder: Path, device: str | torch.device = "cpu") -> tuple[MMCRNet, dict[str, Any]]:
    """The model and its card, after checking the weights' SHA-256 against the card.

    Raises:
        InvalidModel: missing files, a hash mismatch, or weights that do not fit the config.
    """
    folder = Path(folder)
    card = read_card(folder)
    weights = folder / WEIGHTS
    if not weights.is_file():
        raise InvalidModel(f"{folder}: no {WEIGHTS}")
    expected = card.get("weights", {}).get("sha256")
    actual = sha256_of(weights)
    if expected != actual:
        raise InvalidModel(
            f"{weights}: SHA-256 {actual[:12]}... does not match the card's {str(expected)[:12]}..."
        )
    model = MMCRNet(ModelConfig.from_dict(card["config"]))
    try:
        model.load_state_dict(load_file(str(weights)))
    except RuntimeError as exc:
        raise InvalidModel(
            f"{weights}: weights do not fit the card's config ({str(exc).splitlines()[0]})"
        ) from None
    model.to(device).eval()
    return model, card
