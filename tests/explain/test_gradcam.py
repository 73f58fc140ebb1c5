"""Grad-CAM / HiResCAM: known answers on a CNN that learns from one quadrant, agreement with
Captum's LayerGradCam, hooks always released, upsampling back to the original image."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from mmcrnet.data import model_config
from mmcrnet.explain.gradcam import (
    CAM_METHODS,
    captured_output,
    class_activation_maps,
    positive_part,
    target_layer,
    to_original,
)
from mmcrnet.explain.sequence import class_score
from mmcrnet.model import MMCRNet
from mmcrnet.preprocess import MAMMOGRAM, MRI, NO_IMAGE, Geometry

SIZE = 32


def _quadrant_data(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Noise with bright blobs in random quadrants; label 0 (pCR) when the top-left quadrant
    has one, else 2 (none). Blobs elsewhere come and go independently of the label."""
    rng = np.random.default_rng(seed)
    images = rng.normal(0.0, 0.05, (n, 3, SIZE, SIZE)).astype(np.float32)
    labels = rng.integers(0, 2, n) * 2
    half = SIZE // 2
    for i in range(n):
        for qr, qc in [(0, 0), (0, 1), (1, 0), (1, 1)]:
            wanted = labels[i] == 0 if (qr, qc) == (0, 0) else rng.random() < 0.5
            if wanted:
                r = qr * half + int(rng.integers(4, half - 4))
                c = qc * half + int(rng.integers(4, half - 4))
                images[i, :, r - 2 : r + 3, c - 2 : c + 3] += 1.0
    return torch.from_numpy(images), torch.from_numpy(labels)


class _TopLeft(torch.nn.Module):
    """Zeroes everything but the top-left quadrant."""

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        mask = torch.zeros_like(image)
        mask[..., : SIZE // 2, : SIZE // 2] = 1.0
        return image * mask


class QuadrantModel(MMCRNet):
    """MM-CRNet whose image encoders only see the top-left quadrant of the image (the mask is
    the encoders' first step, so every path through them, Grad-CAM's included, has it)."""

    def __init__(self, config) -> None:
        super().__init__(config)
        for encoder in (self.mri_encoder, self.mammogram_encoder):
            encoder.blocks[0] = torch.nn.Sequential(_TopLeft(), encoder.blocks[0])


@pytest.fixture(scope="module")
def quadrant_model() -> MMCRNet:
    """Trained on the quadrant task until it is right (a few seconds)."""
    torch.manual_seed(0)
    model = QuadrantModel(
        model_config("cnn-only", image_size=SIZE, cnn_channels=(4, 8), dropout=0.0)
    )
    images, labels = _quadrant_data(256, 0)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    kinds, empty, ones = torch.full((64,), MRI), torch.zeros(64, 1, 73), torch.ones(64).long()
    for step in range(80):
        rows = torch.from_numpy(np.random.default_rng(step).choice(256, 64, replace=False))
        loss = torch.nn.functional.cross_entropy(
            model(images[rows], kinds, empty, ones), labels[rows]
        )
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    model.eval()
    test_images, test_labels = _quadrant_data(200, 1)
    with torch.no_grad():
        predicted = model(
            test_images, torch.full((200,), MRI), torch.zeros(200, 1, 73), torch.ones(200).long()
        ).argmax(1)
    assert (predicted == test_labels).float().mean() > 0.9, "the quadrant model did not learn"
    return model


def _pcr_log_odds(model: MMCRNet):
    """image (B, 3, S, S) -> log-odds of pCR (B, 1), written out independently of
    class_score, for Captum to attribute."""

    def forward(image: torch.Tensor) -> torch.Tensor:
        kinds = torch.full((image.shape[0],), MRI)
        logits = model.head(model.image_branch(image, kinds), kinds, torch.zeros(image.shape[0], 0))
        log_p = torch.log_softmax(logits, dim=1)
        return log_p[:, :1] - torch.logsumexp(log_p[:, 1:], dim=1, keepdim=True)

    return forward


def _cams(model: MMCRNet, images: torch.Tensor, target: int):
    embedding = torch.zeros(images.shape[0], 0)
    return class_activation_maps(model, images, MRI, embedding, class_score(target))


@pytest.mark.parametrize("method", CAM_METHODS)
def test_maps_light_up_the_quadrant_the_model_reads(quadrant_model: MMCRNet, method: str) -> None:
    images, labels = _quadrant_data(100, 2)
    positives = images[labels == 0]
    maps = _cams(quadrant_model, positives, target=0).maps[method]  # (B, h, w)
    half = maps.shape[-1] // 2
    pointing = [np.unravel_index(np.argmax(m), m.shape) for m in maps]
    # The pointing game's tolerance: the quadrant dilated by one cell (receptive-field spill).
    in_quadrant = np.mean([r <= half and c <= half for r, c in pointing])
    energy = positive_part(maps)[:, :half, :half].sum() / positive_part(maps).sum()
    assert in_quadrant >= 0.8  # the masked rest still carries BN offsets x channel weights
    assert energy > 0.5  # the quadrant is a quarter of the image


@pytest.mark.parametrize("method", CAM_METHODS)
def test_maps_ignore_what_the_model_cannot_see(quadrant_model: MMCRNet, method: str) -> None:
    images, _ = _quadrant_data(8, 5)
    changed = images.clone()
    changed[..., SIZE // 2 :, :] = torch.rand_like(changed[..., SIZE // 2 :, :])  # bottom half
    np.testing.assert_allclose(
        _cams(quadrant_model, images, 0).maps[method],
        _cams(quadrant_model, changed, 0).maps[method],
        atol=1e-6,
    )
    changed[..., :4, :4] += 3.0  # inside the quadrant: the map moves
    assert not np.allclose(
        _cams(quadrant_model, images, 0).maps[method],
        _cams(quadrant_model, changed, 0).maps[method],
        atol=1e-3,
    )


def test_gradcam_equals_captum_layergradcam(quadrant_model: MMCRNet) -> None:
    from captum.attr import LayerGradCam

    images, _ = _quadrant_data(6, 3)
    ours = _cams(quadrant_model, images, target=0).maps["gradcam"]
    forward = _pcr_log_odds(quadrant_model)
    theirs = (
        LayerGradCam(forward, target_layer(quadrant_model, MRI))
        .attribute(images, target=None, relu_attributions=False)[:, 0]
        .detach()
        .numpy()
    )
    np.testing.assert_allclose(ours, theirs, rtol=1e-4, atol=1e-6)


def test_hirescam_equals_gradient_times_activation(quadrant_model: MMCRNet) -> None:
    from captum.attr import LayerGradientXActivation

    images, _ = _quadrant_data(4, 6)
    ours = _cams(quadrant_model, images, target=0).maps["hirescam"]
    forward = _pcr_log_odds(quadrant_model)
    theirs = (
        LayerGradientXActivation(forward, target_layer(quadrant_model, MRI))
        .attribute(images, target=None)
        .sum(dim=1)
        .detach()
        .numpy()
    )
    np.testing.assert_allclose(ours, theirs, rtol=1e-4, atol=1e-6)


def test_hooks_are_released_also_on_error(quadrant_model: MMCRNet) -> None:
    layer = target_layer(quadrant_model, MRI)
    images, _ = _quadrant_data(2, 4)
    _cams(quadrant_model, images, target=0)
    assert not layer._forward_hooks

    def broken(logits: torch.Tensor) -> torch.Tensor:
        raise RuntimeError("score failed")

    with pytest.raises(RuntimeError, match="score failed"):
        class_activation_maps(quadrant_model, images, MRI, torch.zeros(2, 0), broken)
    assert not layer._forward_hooks
    with pytest.raises(KeyError), captured_output(layer):
        raise KeyError("inside the block")
    assert not layer._forward_hooks


def test_target_layer_per_image_kind(quadrant_model: MMCRNet) -> None:
    assert target_layer(quadrant_model, MRI) is quadrant_model.mri_encoder.last_conv
    assert target_layer(quadrant_model, MAMMOGRAM) is quadrant_model.mammogram_encoder.last_conv
    with pytest.raises(ValueError, match="no image encoder"):
        target_layer(quadrant_model, NO_IMAGE)


def test_to_original_undoes_square_padding() -> None:
    cam = np.zeros((8, 8), dtype=np.float32)
    cam[2, 0] = 4.0  # left edge, upper-middle of the padded square
    cam[5, 7] = -8.0  # right edge, lower-middle
    out = to_original(cam, Geometry(100, 200, 128))  # wide image: padded top and bottom by 50 rows
    assert out.shape == (100, 200)
    assert out.min() == pytest.approx(-1.0) and out.max() == pytest.approx(0.5, abs=0.02)
    row, col = np.unravel_index(np.argmax(out), out.shape)
    assert col < 25 and 0 <= row < 20  # square row 2/8 of 200 = 50..75 -> rows 0..25 after crop
    assert not np.any(to_original(np.zeros((8, 8)), Geometry(50, 60, 128)))
