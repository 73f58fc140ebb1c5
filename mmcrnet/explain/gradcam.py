"""Class activation maps of the image encoder: Grad-CAM and HiResCAM from one forward and one
backward pass through the image branch and the head (the sequence embedding is held fixed).

Both weigh the activations ``A (C, h, w)`` of the encoder's last convolutional block by the
gradient ``G`` of the target score: Grad-CAM by the channel means of ``G`` (Selvaraju et al.
2017), HiResCAM element-wise (Draper et al. 2022; exact for a linear head on global-average
pooled features, a first-order account here, where a max-pool and the fusion MLP follow). Maps
are kept signed -- positive where the region pushes towards the target, negative where it pushes
away -- mapped back to the original image by the preprocessing's recorded geometry and scaled
to [-1, 1]; the classic (ReLU'd) map is the positive part, :func:`positive_part`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor, nn

from mmcrnet.model import MMCRNet
from mmcrnet.preprocess import MRI, Geometry

CAM_METHODS: tuple[str, ...] = ("gradcam", "hirescam")


@contextmanager
def captured_output(layer: nn.Module) -> Iterator[list[Tensor]]:
    """Record ``layer``'s outputs while the block runs; the hook is removed on exit, also when
    the block raises."""
    outputs: list[Tensor] = []
    caller = threading.get_ident()  # the model is shared: other threads' passes are not ours

    def record(_module: nn.Module, _inputs: object, output: Tensor) -> None:
        if threading.get_ident() == caller:
            outputs.append(output)

    handle = layer.register_forward_hook(record)
    try:
        yield outputs
    finally:
        handle.remove()


def target_layer(model: MMCRNet, image_kind: int) -> nn.Module:
    """The layer whose activations the maps weigh: the last block of the kind's encoder."""
    return model.encoder(image_kind).last_conv


@dataclass(frozen=True)
class CamResult:
    """Maps of a batch at the resolution of the target layer.

    Attributes:
        maps: method -> (B, h, w) float32, signed, not normalised.
        logits: (B, 3) the model's logits for the batch.
    """

    maps: dict[str, np.ndarray]
    logits: np.ndarray


def image_activations(model: MMCRNet, image: Tensor, image_kind: int) -> Tensor:
    """The target layer's activations (B, C, h, w) of a batch of one image kind, without
    autograd; ``model``'s encoder of that kind ``embed``s them into the image embedding that
    ``model.image_branch`` gives."""
    encoder = model.encoder(image_kind)  # raises for a kind without an image encoder
    pixels = image if image_kind == MRI else image[:, :1]  # as image_branch reads each kind
    with torch.no_grad():  # the convolutions up to the target layer: nothing to record
        return encoder.activations(pixels)


def class_activation_maps(
    model: MMCRNet,
    image: Tensor,
    image_kind: int,
    sequence_embedding: Tensor,
    score: Callable[[Tensor], Tensor],
    activations: Tensor | None = None,
) -> CamResult:
    """Grad-CAM and HiResCAM for a batch of one image kind.

    Args:
        image: (B, 3, S, S) model input; image_kind: MRI or MAMMOGRAM (the whole batch).
        sequence_embedding: (B, H) from ``model.sequence_branch`` (held fixed).
        score: logits (B, 3) -> (B,), e.g. :func:`mmcrnet.explain.sequence.class_score`.
        activations: :func:`image_activations` of ``image`` when already computed (the
            explainer's prediction pass), else computed here.
    """
    if activations is None:
        activations = image_activations(model, image, image_kind)
    kinds = torch.full((image.shape[0],), image_kind, device=image.device, dtype=torch.long)
    encoder = model.encoder(image_kind)
    activations = activations.detach()
    last = encoder.blocks[-1]
    assert isinstance(last, nn.Sequential)
    after = list(last)[6:]  # what follows the target layer in its block
    if (
        encoder.attention is None
        and isinstance(encoder.pool, nn.AdaptiveAvgPool2d)
        and len(after) == 1
        and isinstance(after[0], nn.MaxPool2d)
    ):
        gradients, weights, logits = _through_average_pooling(
            model, after[0], activations, kinds, sequence_embedding, score
        )
    else:  # max or attention pooling: autograd through the layers after the target
        activations.requires_grad_(True)
        with torch.enable_grad():
            logits = model.head(encoder.embed(activations), kinds, sequence_embedding.detach())
            (gradients,) = torch.autograd.grad(score(logits).sum(), activations)
        activations, gradients = activations.detach(), gradients.detach()
        weights = gradients.mean(dim=(2, 3), keepdim=True)
    gradcam = (weights * activations).sum(dim=1)
    hirescam = (gradients * activations).sum(dim=1)  # (B, h, w)
    return CamResult(
        {"gradcam": gradcam.float().cpu().numpy(), "hirescam": hirescam.float().cpu().numpy()},
        logits.detach().float().cpu().numpy(),
    )


def _through_average_pooling(
    model: MMCRNet,
    pool: nn.MaxPool2d,
    activations: Tensor,
    kinds: Tensor,
    sequence_embedding: Tensor,
    score: Callable[[Tensor], Tensor],
) -> tuple[Tensor, Tensor, Tensor]:
    """The score's gradient with respect to ``activations`` (B, C, h, w) when the layers after
    them are a max-pool and a global average pool: autograd runs through the head only, and the
    two pools' backward is written out. The embedding is e = mean over the w' windows of each
    window's maximum, so d score / d A is g_c / w' at each window's maximum (the position
    autograd routes it to) and 0 elsewhere, for g = d score / d e; the channel means of that,
    Grad-CAM's weights, are g_c / (h w). The same maps as autograd to float rounding
    (``tests/explain/test_gradcam.py``), without recording or replaying the pools.

    Returns:
        gradients (B, C, h, w), Grad-CAM weights (B, C, 1, 1), logits (B, 3).
    """
    with torch.no_grad():
        pooled, where = nn.functional.max_pool2d(
            activations, pool.kernel_size, pool.stride, return_indices=True
        )
        embedding = pooled.mean(dim=(2, 3))  # (B, C): what encoder.embed gives
    embedding.requires_grad_(True)
    with torch.enable_grad():
        logits = model.head(embedding, kinds, sequence_embedding.detach())
        (per_channel,) = torch.autograd.grad(score(logits).sum(), embedding)  # (B, C)
    windows = pooled.shape[2] * pooled.shape[3]
    per_window = (per_channel / windows)[:, :, None].expand(-1, -1, windows)  # (B, C, w')
    batch, channels, height, width = activations.shape
    gradients = (
        activations.new_zeros((batch, channels, height * width))
        .scatter_(2, where.flatten(2), per_window)  # each window's maximum (max_unpool2d)
        .view(batch, channels, height, width)
    )
    return gradients, (per_channel / (height * width))[:, :, None, None], logits.detach()


def to_original(cam: np.ndarray, geometry: Geometry) -> np.ndarray:
    """(h, w) signed map at the layer's resolution -> (H, W) over the original image through the
    preprocessing's own inverse (:meth:`Geometry.inverse`), divided by its largest absolute value
    (so in [-1, 1]). An all-zero map (no evidence for the target) stays zero."""
    out = geometry.inverse(cam)
    peak = float(np.abs(out).max())
    return out / peak if peak > 0 else out


def positive_part(cam: np.ndarray) -> np.ndarray:
    """The classic Grad-CAM / HiResCAM map (ReLU of the signed map): where the image pushes
    towards the target. All zero when no region does."""
    return np.maximum(cam, 0.0)
