from __future__ import annotations

import pytest
import torch

from mmcrnet.data import LAYOUT, MAMMOGRAM, MRI, NO_IMAGE
from mmcrnet.model import VARIANTS, MMCRNet, ModelConfig, variant_config

SMALL = {"cnn_channels": (4, 8), "lstm_hidden": 8, "fusion_hidden": 16}


def batch(b: int = 4, size: int = 128):
    torch.manual_seed(0)
    image = torch.rand(b, 3, size, size)
    kinds = torch.tensor([MRI, MAMMOGRAM, NO_IMAGE, MRI][:b])
    sequence = torch.randn(b, 4, LAYOUT.width)
    lengths = torch.tensor([4, 1, 2, 3][:b])
    return image, kinds, sequence, lengths


@pytest.mark.parametrize("variant", VARIANTS)
def test_every_variant_gives_logits_for_mixed_inputs(variant: str) -> None:
    model = MMCRNet(variant_config(variant, **SMALL)).eval()
    logits = model(*batch())
    assert logits.shape == (4, 3) and torch.isfinite(logits).all()


def test_branches_compose_to_forward() -> None:
    model = MMCRNet(ModelConfig(**SMALL)).eval()
    image, kinds, sequence, lengths = batch()
    embedding = model.image_branch(image, kinds)
    assert embedding.shape == (4, 8)
    assert not embedding[2].any()  # no image -> zero embedding
    combined = model.head(embedding, kinds, model.sequence_branch(sequence, lengths))
    torch.testing.assert_close(combined, model(image, kinds, sequence, lengths))


def test_padding_after_the_last_time_point_is_ignored() -> None:
    model = MMCRNet(ModelConfig(**SMALL)).eval()
    image, kinds, sequence, lengths = batch()
    changed = sequence.clone()
    changed[1, 1:] = 99.0  # case 1 has length 1
    torch.testing.assert_close(model(image, kinds, sequence, lengths),
                               model(image, kinds, changed, lengths))


def test_mammogram_uses_its_own_encoder_and_one_channel() -> None:
    model = MMCRNet(ModelConfig(**SMALL)).eval()
    image, kinds, sequence, lengths = batch()
    changed = image.clone()
    changed[1, 1:] = 0.5  # channels 1-2 of the mammogram row are not read
    torch.testing.assert_close(model.image_branch(image, kinds), model.image_branch(changed, kinds))


def test_config_round_trip_and_validation() -> None:
    config = variant_config("no-genomic", **SMALL)
    assert config.groups == ("clinical",)
    assert ModelConfig.from_dict(config.to_dict()) == config
    with pytest.raises(ValueError, match="variant 'cnn' is not one of"):
        ModelConfig(variant="cnn")
    with pytest.raises(ValueError, match="unknown model config keys: colour"):
        ModelConfig.from_dict({"colour": 1})
