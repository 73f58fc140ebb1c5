"""How much each modality moved the prediction: exact Shapley values over image, clinical and
genomic data, using the model's own missing-modality path (8 subsets, one batched pass).

A modality left out of a subset is presented as missing the way the model encodes missing
data: no image = image kind "none" (zero embedding); no clinical or genomic data = those
features' values and present-flags zero (and the derived subtype unknown without clinical data).
The value of a subset is the calibrated probability of each outcome, so a Shapley value reads
as "moved P(pCR) by +0.12"; the three values sum to P(all) - P(nothing) for every outcome.

Caveats: the bundled training withholds images (20 %) and genomic data (15 %) but never the
clinical data, so subsets without clinical data are inputs the model has not seen; and every
subset keeps the case's number of time points and their weeks (when, not what).
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations
from math import factorial

import numpy as np
import torch
from torch import Tensor

from mmcrnet.data import LAYOUT, NO_IMAGE
from mmcrnet.model import MMCRNet

MODALITIES: tuple[str, ...] = ("image", "clinical", "genomic")


_COLUMNS = {group: LAYOUT.group_mask(group) for group in ("clinical", "genomic")}


def subsets() -> list[frozenset[str]]:
    """All 8 subsets of :data:`MODALITIES`, smallest first."""
    return [frozenset(c) for r in range(len(MODALITIES) + 1) for c in combinations(MODALITIES, r)]


def shapley_from_values(values: dict[frozenset[str], np.ndarray]) -> np.ndarray:
    """Exact Shapley values (modalities, K) from the values (K,) of all subsets."""
    n = len(MODALITIES)
    out = np.zeros((n, len(next(iter(values.values())))), dtype=np.float64)
    for i, modality in enumerate(MODALITIES):
        others = [m for m in MODALITIES if m != modality]
        for r in range(n):
            weight = factorial(r) * factorial(n - r - 1) / factorial(n)
            for coalition in combinations(others, r):
                base = frozenset(coalition)
                out[i] += weight * (values[base | {modality}] - values[base])
    return out


@dataclass(frozen=True)
class ModalityAttribution:
    """Shapley values of the three modalities for one case.

    Attributes:
        shapley: (3 modalities, 3 outcomes) in units of calibrated probability.
        nothing: (3,) probabilities with every modality missing (the model's prior).
        everything: (3,) probabilities with the case as given.
        available: modality -> whether the case has it at all (a modality the case lacks
            gets 0, up to float rounding).
    """

    shapley: np.ndarray
    nothing: np.ndarray
    everything: np.ndarray
    available: dict[str, bool]


@torch.no_grad()
def modality_shapley(
    model: MMCRNet,
    image_embedding: Tensor,
    image_kind: Tensor,
    sequence: Tensor,
    length: Tensor,
    temperature: float = 1.0,
) -> ModalityAttribution:
    """Shapley values of image, clinical and genomic data for one case.

    The image embedding is computed once by the caller: a subset without the image gets the
    zero embedding and kind "none", exactly what ``model.image_branch`` gives a case without
    one, so the 8 subsets cost one batched LSTM pass and no CNN pass.

    Args:
        image_embedding: (1, E) from ``model.image_branch``; image_kind: (1,);
        sequence: (1, T, F); length: (1,).
    """
    order = subsets()
    embeddings, kinds, sequences = [], [], []
    for subset in order:
        seq = sequence[0].clone()  # (T, F)
        for group, columns in _COLUMNS.items():
            if group not in subset:
                seq[:, torch.from_numpy(columns).to(seq.device)] = 0.0
        sequences.append(seq)
        with_image = "image" in subset
        embeddings.append(
            image_embedding[0] if with_image else torch.zeros_like(image_embedding[0])
        )
        kinds.append(image_kind[0] if with_image else torch.zeros_like(image_kind[0]) + NO_IMAGE)
    sequence_embedding = model.sequence_branch(torch.stack(sequences), length.expand(len(order)))
    logits = model.head(torch.stack(embeddings), torch.stack(kinds), sequence_embedding)  # (8, 3)
    probabilities = torch.softmax(logits.double() / temperature, dim=1).cpu().numpy()
    values = dict(zip(order, probabilities))
    sequence_np = sequence[0, : int(length[0])].cpu().numpy()
    present = {group: bool(np.any(sequence_np[:, _COLUMNS[group]] != 0)) for group in _COLUMNS}
    available = {"image": int(image_kind[0]) != NO_IMAGE and model.config.uses_image, **present}
    return ModalityAttribution(
        shapley_from_values(values), values[frozenset()], values[frozenset(MODALITIES)], available
    )
