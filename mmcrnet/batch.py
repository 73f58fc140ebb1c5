"""Batch inference on a :class:`~mmcrnet.datasets.CaseSet`: the logits training validates on and
evaluation scores (both import it from here, so evaluation never imports training)."""

from __future__ import annotations

import numpy as np
import torch

from mmcrnet.data import batch_images
from mmcrnet.datasets import CaseSet
from mmcrnet.model import MRI, NO_IMAGE, MMCRNet, ModelConfig


def main_condition_kinds(config: ModelConfig, n: int) -> np.ndarray:
    """Image kinds of the evaluation condition: MRI when the model reads images."""
    return np.full(n, MRI if config.uses_image else NO_IMAGE, dtype=np.int64)


@torch.no_grad()
def predict_logits(
    model: MMCRNet,
    cases: CaseSet,
    sequences: np.ndarray,
    lengths: np.ndarray,
    kinds: np.ndarray,
    batch_size: int = 256,
    device: torch.device | str = "cpu",
) -> np.ndarray:
    """Logits (N, classes) of ``model`` on ``cases`` with the given inputs.

    Args:
        sequences: (N, T, F); lengths: (N,); kinds: (N,) image kind per case.
    """
    model.eval()
    out = []
    for start in range(0, cases.n, batch_size):
        rows = np.arange(start, min(start + batch_size, cases.n))
        image = batch_images(cases.images, rows, kinds[rows]).to(device)
        logits = model(
            image,
            torch.from_numpy(kinds[rows]).to(device),
            torch.from_numpy(sequences[rows]).to(device),
            torch.from_numpy(lengths[rows]).to(device),
        )
        out.append(logits.float().cpu().numpy())
    if out:
        return np.concatenate(out)
    return np.zeros((0, model.config.n_classes), dtype=np.float32)
