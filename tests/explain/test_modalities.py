"""Exact Shapley values over image, clinical and genomic data."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from mmcrnet.data import MRI, NO_IMAGE, model_config
from mmcrnet.explain.modalities import (
    MODALITIES,
    modality_shapley,
    shapley_from_values,
    subsets,
)
from mmcrnet.model import MMCRNet
from mmcrnet.predict import ClinicalCase

from .test_sequence import STATIC, TIMEPOINTS


def test_subsets_are_all_eight() -> None:
    assert len(set(subsets())) == 8 and subsets()[0] == frozenset()


@pytest.mark.parametrize(
    "value, expected",
    [
        # additive: each modality gets exactly its own effect
        (
            lambda s: 1.0 * ("image" in s) + 2.0 * ("clinical" in s) - 0.5 * ("genomic" in s),
            [1.0, 2.0, -0.5],
        ),
        # pure interaction of all three: shared equally
        (lambda s: float(len(s) == 3), [1 / 3, 1 / 3, 1 / 3]),
        # image only matters with clinical data: they split it, genomic gets nothing
        (lambda s: float({"image", "clinical"} <= s), [0.5, 0.5, 0.0]),
    ],
)
def test_known_shapley_values(value, expected: list[float]) -> None:
    values = {s: np.array([value(s)]) for s in subsets()}
    shapley = shapley_from_values(values)[:, 0]
    np.testing.assert_allclose(shapley, expected, atol=1e-12)
    assert shapley.sum() == pytest.approx(value(frozenset(MODALITIES)) - value(frozenset()))


def _inputs(model: MMCRNet, kind: int):
    cases, tps = ClinicalCase(STATIC, TIMEPOINTS).tables()
    from mmcrnet.data import encode_sequences

    encoded = encode_sequences(cases, tps, model.config.groups)  # type: ignore[arg-type]
    image = torch.rand(1, 3, 128, 128, generator=torch.Generator().manual_seed(0))
    kinds = torch.tensor([kind])
    with torch.no_grad():
        embedding = model.image_branch(image, kinds)
    return (embedding, kinds, torch.from_numpy(encoded.values), torch.from_numpy(encoded.lengths))


@pytest.mark.parametrize(
    "variant, kind, zero",
    [
        ("mmcrnet", NO_IMAGE, "image"),  # a case without an image
        ("no-genomic", MRI, "genomic"),  # a model that never reads genomic data
        ("no-imaging", MRI, "image"),  # a model that never reads images
    ],
)
def test_a_modality_that_cannot_matter_gets_zero(variant: str, kind: int, zero: str) -> None:
    torch.manual_seed(1)
    model = MMCRNet(model_config(variant, cnn_channels=(4, 8))).eval()
    result = modality_shapley(model, *_inputs(model, kind), temperature=1.3)
    assert result.shapley.shape == (3, 3)
    np.testing.assert_allclose(result.shapley[MODALITIES.index(zero)], 0.0, atol=1e-7)
    np.testing.assert_allclose(
        result.shapley.sum(axis=0), result.everything - result.nothing, atol=1e-9
    )  # efficiency, per outcome
    np.testing.assert_allclose(result.shapley.sum(axis=1), 0.0, atol=1e-9)  # probabilities
    assert result.available[zero] is False


def test_full_case_matches_the_models_prediction() -> None:
    torch.manual_seed(2)
    model = MMCRNet(model_config("mmcrnet", cnn_channels=(4, 8))).eval()
    embedding, kinds, sequence, length = _inputs(model, MRI)
    result = modality_shapley(model, embedding, kinds, sequence, length)
    image = torch.rand(1, 3, 128, 128, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        direct = torch.softmax(model(image, kinds, sequence, length), dim=1)[0].numpy()
    np.testing.assert_allclose(result.everything, direct, atol=1e-6)
    assert result.available == {"image": True, "clinical": True, "genomic": True}
