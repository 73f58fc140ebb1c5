from __future__ import annotations

import pytest
import torch

from mmcrnet.data import LAYOUT, MAMMOGRAM, MRI, NO_IMAGE, model_config
from mmcrnet.model import VARIANTS, MMCRNet, ModelConfig

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
    model = MMCRNet(model_config(variant, **SMALL)).eval()
    logits = model(*batch())
    assert logits.shape == (4, 3) and torch.isfinite(logits).all()


def test_branches_compose_to_forward() -> None:
    model = MMCRNet(model_config(**SMALL)).eval()
    image, kinds, sequence, lengths = batch()
    embedding = model.image_branch(image, kinds)
    assert embedding.shape == (4, 8)
    assert not embedding[2].any()  # no image -> zero embedding
    combined = model.head(embedding, kinds, model.sequence_branch(sequence, lengths))
    torch.testing.assert_close(combined, model(image, kinds, sequence, lengths))


def test_padding_after_the_last_time_point_is_ignored() -> None:
    model = MMCRNet(model_config(**SMALL)).eval()
    image, kinds, sequence, lengths = batch()
    changed = sequence.clone()
    changed[1, 1:] = 99.0  # case 1 has length 1
    torch.testing.assert_close(
        model(image, kinds, sequence, lengths), model(image, kinds, changed, lengths)
    )


def test_mammogram_uses_its_own_encoder_and_one_channel() -> None:
    model = MMCRNet(model_config(**SMALL)).eval()
    image, kinds, sequence, lengths = batch()
    changed = image.clone()
    changed[1, 1:] = 0.5  # channels 1-2 of the mammogram row are not read
    torch.testing.assert_close(model.image_branch(image, kinds), model.image_branch(changed, kinds))


def test_config_round_trip_and_validation() -> None:
    config = model_config("no-genomic", **SMALL)
    assert config.groups == ("clinical",)
    assert ModelConfig.from_dict(config.to_dict()) == config
    with pytest.raises(ValueError, match="variant 'cnn' is not one of"):
        model_config("cnn")
    with pytest.raises(ValueError, match="unknown model config keys: colour"):
        ModelConfig.from_dict({"colour": 1})


def test_image_pooling_is_validated_and_cards_without_it_load_as_average_pooling() -> None:
    with pytest.raises(
        ValueError, match="image_pooling 'median' is not one of avg, max, attention"
    ):
        model_config(image_pooling="median")
    old_card = {k: v for k, v in model_config(**SMALL).to_dict().items() if k != "image_pooling"}
    assert ModelConfig.from_dict(old_card).image_pooling == "avg"
    assert ModelConfig.from_dict({**old_card, "image_pooling": "max"}).image_pooling == "max"


@pytest.mark.parametrize("pooling", ["max", "avg"])
def test_image_embedding_pools_the_last_feature_maps(pooling: str) -> None:
    """The embedding is the global max (or mean) of what Grad-CAM weighs, after the block's
    2 x 2 max-pool (which keeps the global max)."""
    model = MMCRNet(model_config(image_pooling=pooling, **SMALL)).eval()
    image = batch()[0][:2]
    captured = []
    handle = model.mri_encoder.last_conv.register_forward_hook(
        lambda _m, _i, out: captured.append(out)
    )
    with torch.no_grad():
        embedding = model.mri_encoder(image)
    handle.remove()
    maps = captured[0]
    expected = (
        maps.amax(dim=(2, 3))
        if pooling == "max"
        else torch.nn.functional.max_pool2d(maps, 2).mean(dim=(2, 3))
    )
    torch.testing.assert_close(embedding, expected)


def test_attention_pooling_reads_where_its_weights_point() -> None:
    """Attention pooling is a softmax-weighted mean over locations: weights that favour one
    location make the embedding that location's features."""
    model = MMCRNet(model_config(image_pooling="attention", **SMALL)).eval()
    encoder = model.mri_encoder
    assert encoder.attention is not None
    image = batch()[0][:2]
    with torch.no_grad():
        features = encoder.blocks(image)
        flat = features.flatten(2)
        weights = torch.softmax(encoder.attention(features).flatten(2), dim=-1)
        torch.testing.assert_close(encoder(image), (flat * weights).sum(-1))
        assert torch.allclose(weights.sum(-1), torch.ones(2, 1))
        # a large bias on one location's score: the embedding becomes that location
        last = encoder.attention[-1]
        assert isinstance(last, torch.nn.Conv2d)
        original = encoder.attention
        encoder.attention = torch.nn.Sequential(
            original, _AddAt(features.shape[-1], row=1, col=2, value=1e4)
        )
        torch.testing.assert_close(encoder(image), features[:, :, 1, 2])


class _AddAt(torch.nn.Module):
    def __init__(self, side: int, row: int, col: int, value: float) -> None:
        super().__init__()
        self.bump = torch.zeros(1, 1, side, side)
        self.bump[0, 0, row, col] = value

    def forward(self, scores: torch.Tensor) -> torch.Tensor:
        return scores + self.bump


def test_another_input_size_needs_only_the_constant(examples_dir) -> None:
    """IMAGE_SIZE 128 -> 160: preprocessing and the model follow the one value."""
    from mmcrnet.io import read_paths
    from mmcrnet.preprocess import model_image

    study = read_paths([examples_dir / "images" / "PH00019" / "mri"])
    image = model_image(study, size=160)
    assert image.pixels.shape == (3, 160, 160)
    model = MMCRNet(model_config(image_size=160, cnn_channels=(4, 8))).eval()
    with torch.no_grad():
        logits = model(
            torch.from_numpy(image.pixels)[None],
            torch.tensor([MRI]),
            torch.zeros(1, 4, LAYOUT.width),
            torch.tensor([1]),
        )
    assert logits.shape == (1, 3)


def test_folding_batch_norm_for_inference_keeps_the_logits_and_the_layers() -> None:
    import copy

    from mmcrnet.data import model_config
    from mmcrnet.model import MMCRNet, for_inference

    torch.manual_seed(0)
    trained = MMCRNet(model_config())
    for module in trained.modules():  # BatchNorm statistics that are not the identity
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.uniform_(-0.5, 0.5)
            module.running_var.uniform_(0.5, 2.0)
    trained.eval()
    folded = for_inference(copy.deepcopy(trained))
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in folded.modules())
    assert isinstance(folded.mri_encoder.last_conv, torch.nn.ReLU)  # Grad-CAM's layer kept
    image, sequence = torch.rand(4, 3, 128, 128), torch.rand(4, 4, trained.config.feature_dim)
    kinds, lengths = torch.tensor([0, 1, 2, 1]), torch.tensor([4, 3, 2, 1])
    with torch.no_grad():
        expected = trained(image, kinds, sequence, lengths)
        got = folded(image, kinds, sequence, lengths)
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-5)
