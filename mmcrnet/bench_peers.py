"""Our explanation steps timed against the tools a researcher would otherwise use, on the same
model, the same case and the same device, with the outputs checked equal:

- Grad-CAM (:func:`~mmcrnet.explain.gradcam.class_activation_maps`) against pytorch-grad-cam's
  ``GradCAM`` on the same layer and score; maps compared after the same ReLU, min-max scaling
  and resize (pytorch-grad-cam's ``scale_cam_image``): Pearson r.
- Sequence Integrated Gradients (Captum IG over the sequence branch, the image embedding held
  fixed) against Captum IG run through the whole model (the CNN at every step), 64 steps:
  largest absolute difference of the attributions.

pytorch-grad-cam is a development requirement (``grad-cam``); without it that peer is reported
as not installed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from captum.attr import IntegratedGradients
from torch import Tensor, nn

from mmcrnet.explain.gradcam import class_activation_maps, target_layer
from mmcrnet.explain.sequence import class_score, sequence_function
from mmcrnet.features import OUTCOMES
from mmcrnet.model import MMCRNet
from mmcrnet.predict import PreparedInput
from mmcrnet.timing import Timing, timed, timed_alternately


class _ImageToLogits(nn.Module):
    """The model as pytorch-grad-cam calls it: image (B, 3, S, S) -> logits (B, 3), with the
    case's image kind and sequence embedding fixed."""

    def __init__(self, model: MMCRNet, kind: Tensor, sequence_embedding: Tensor) -> None:
        super().__init__()
        self.model, self.kind, self.sequence_embedding = model, kind, sequence_embedding

    def forward(self, image: Tensor) -> Tensor:
        kinds = self.kind.expand(image.shape[0])
        embedding = self.sequence_embedding.expand(image.shape[0], -1)
        return self.model.head(self.model.image_branch(image, kinds), kinds, embedding)


class _Score:
    """A pytorch-grad-cam target: our class score (calibrated log-odds) of one case's logits."""

    def __init__(self, score: Callable[[Tensor], Tensor]) -> None:
        self.score = score

    def __call__(self, logits: Tensor) -> Tensor:
        return self.score(logits[None])[0]


def gradcam_against_peer(
    model: MMCRNet, prepared: PreparedInput, temperature: float, repeats: int
) -> dict[str, Any]:
    """Our Grad-CAM and pytorch-grad-cam's on one case: times (ms), their ratio, and the maps'
    Pearson r after the peer's own post-processing."""
    try:
        from pytorch_grad_cam import GradCAM
        from pytorch_grad_cam.utils.image import scale_cam_image
    except ImportError:
        return {"skipped": "pytorch-grad-cam is not installed (pip install grad-cam)"}
    device = prepared.image.device
    kind = int(prepared.kind[0])
    with torch.no_grad():
        sequence_embedding = model.sequence_branch(prepared.sequence, prepared.length)
    logits = model(prepared.image, prepared.kind, prepared.sequence, prepared.length)
    target = int(logits.argmax())
    score = class_score(target, temperature)

    def ours() -> np.ndarray:
        return class_activation_maps(model, prepared.image, kind, sequence_embedding, score).maps[
            "gradcam"
        ]

    size = tuple(prepared.image.shape[-2:])
    mine = scale_cam_image(np.maximum(ours(), 0), size[::-1])  # the peer's ReLU, scale, resize
    wrapper = _ImageToLogits(model, prepared.kind, sequence_embedding)
    layer = target_layer(model, kind)

    def theirs() -> np.ndarray:
        # The peer's hooks exist only while it runs: left on the layer, they would run (and
        # copy the activations) in ours too.
        peer = GradCAM(model=wrapper, target_layers=[layer])
        try:
            return peer(input_tensor=prepared.image, targets=[_Score(score)])
        finally:
            peer.activations_and_grads.release()

    other = theirs()
    our_ms, peer_ms = timed_alternately(ours, theirs, repeats, device, warmup=2)
    r = float(np.corrcoef(mine.ravel(), other.ravel())[0, 1])
    return {
        "ours_ms": Timing.of(our_ms, "class_activation_maps"),
        "peer_ms": Timing.of(peer_ms, "pytorch-grad-cam GradCAM"),
        "speedup": round(float(np.median(peer_ms) / np.median(our_ms)), 2),
        "pearson_r": round(r, 6),
        "peer": "pytorch-grad-cam GradCAM, same layer and score",
        "outcome": OUTCOMES[target],
    }


def integrated_gradients_against_peer(
    model: MMCRNet,
    prepared: PreparedInput,
    baseline: Tensor,
    temperature: float,
    repeats: int,
    steps: int = 64,
) -> dict[str, Any]:
    """Our sequence IG and Captum IG through the whole model on one case: times, their ratio,
    and the largest absolute difference of the attributions."""
    device = prepared.image.device
    with torch.no_grad():
        image_embedding = model.image_branch(prepared.image, prepared.kind)
        logits = model(prepared.image, prepared.kind, prepared.sequence, prepared.length)
    score = class_score(int(logits.argmax()), temperature)
    forward = sequence_function(model, image_embedding, prepared.kind, prepared.length, score)

    def whole(sequence: Tensor) -> Tensor:
        n = sequence.shape[0]
        image = prepared.image.expand(n, -1, -1, -1)
        kinds, lengths = prepared.kind.expand(n), prepared.length.expand(n)
        return score(model(image, kinds, sequence, lengths))

    def attribute(function: Callable[[Tensor], Tensor]) -> np.ndarray:
        found = IntegratedGradients(function).attribute(
            prepared.sequence, baselines=baseline, n_steps=steps
        )
        return found.detach().double().cpu().numpy()

    ours, theirs = attribute(forward), attribute(whole)
    our_ms = timed(lambda: attribute(forward), repeats, device, warmup=2)
    peer_ms = timed(lambda: attribute(whole), max(3, repeats // 4), device, warmup=2)
    return {
        "ours_ms": Timing.of(our_ms, "IG over the sequence branch"),
        "peer_ms": Timing.of(peer_ms, "Captum IG through the whole model"),
        "speedup": round(float(np.median(peer_ms) / np.median(our_ms)), 1),
        "max_abs_difference": float(np.abs(ours - theirs).max()),
        "steps": steps,
        "peer": "Captum IntegratedGradients through the whole model (the CNN at every step)",
    }
