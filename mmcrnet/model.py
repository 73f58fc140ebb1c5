"""MM-CRNet: a CNN over the image, an LSTM over the clinical/genomic sequence, concatenation
fusion, fully connected layers, softmax over (pCR, partial, none).

The three parts are exposed separately (``image_branch``, ``sequence_branch``, ``head``) so that
explanations can compute the image embedding once and attribute the sequence cheaply.

Images: a DCE-MRI (3 phases as channels) and a mammogram (1 channel) have their own encoders
with the same architecture; both map to an embedding of the same size. A case without an image
gets a zero embedding, and the head sees a one-hot of the image kind (none / MRI / mammogram),
so "no image" is an input the model is trained on, not a hole.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any

import torch
import torch.nn.utils.fusion
from torch import Tensor, nn

#: Image input kinds (an integer per case in batches): the model's input contract, which
#: preprocessing and batching follow.
NO_IMAGE, MRI, MAMMOGRAM = 0, 1, 2
IMAGE_KINDS = ("none", "mri", "mammogram")
VARIANTS: tuple[str, ...] = (
    "mmcrnet",
    "cnn-only",
    "lstm-only",
    "no-imaging",
    "no-clinical",
    "no-genomic",
)
IMAGE_POOLING: tuple[str, ...] = ("avg", "max", "attention")


@dataclass(frozen=True)
class ModelConfig:
    """Architecture of one model; saved in every model card. The sizes come from the data
    pipeline (:func:`mmcrnet.data.model_config` fills them); the model imports nothing of it."""

    image_size: int  # square image input side
    feature_dim: int  # F: columns of the sequence input
    max_time_points: int  # T
    n_classes: int  # outcomes
    variant: str = "mmcrnet"  # one of VARIANTS (baselines and ablations share this code)
    cnn_channels: tuple[int, ...] = (16, 32, 64, 128)  # one conv block per entry, each halves
    lstm_hidden: int = 64  # sequence embedding size
    fusion_hidden: int = 128  # fully connected layer after concatenation
    dropout: float = 0.3  # before each fully connected layer
    image_pooling: str = "avg"  # "avg", "max" or "attention": pooling of the last feature maps
    groups: tuple[str, ...] = field(default=("clinical", "genomic"))  # sequence feature groups

    def __post_init__(self) -> None:
        if self.variant not in VARIANTS:
            raise ValueError(f"variant '{self.variant}' is not one of {', '.join(VARIANTS)}")
        if self.image_pooling not in IMAGE_POOLING:
            raise ValueError(
                f"image_pooling '{self.image_pooling}' is not one of {', '.join(IMAGE_POOLING)}"
            )
        if self.image_size % 2 ** len(self.cnn_channels):
            raise ValueError(
                f"image_size {self.image_size} must be divisible by 2**{len(self.cnn_channels)}"
            )

    @property
    def uses_image(self) -> bool:
        return self.variant not in ("lstm-only", "no-imaging")

    @property
    def uses_sequence(self) -> bool:
        return self.variant != "cnn-only"

    @property
    def has_fusion_head(self) -> bool:
        """Baselines end in a single linear layer; MM-CRNet and its ablations fuse."""
        return self.variant not in ("cnn-only", "lstm-only")

    def to_dict(self) -> dict[str, object]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, object]) -> ModelConfig:
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown model config keys: {', '.join(sorted(unknown))}")
        values: dict[str, Any] = dict(data)  # JSON: the dataclass checks the values below
        for key in ("cnn_channels", "groups"):
            if key in values:
                values[key] = tuple(values[key])
        return cls(**values)


def variant_config(
    variant: str,
    **values: object,
) -> ModelConfig:
    """The config of a named variant: which branches and which feature groups it uses."""
    groups = {"no-clinical": ("genomic",), "no-genomic": ("clinical",)}.get(
        variant, ("clinical", "genomic")
    )
    return ModelConfig.from_dict({"variant": variant, "groups": groups, **values})


class ImageEncoder(nn.Module):
    """Conv blocks (conv-BN-ReLU x 2, max-pool) then global pooling: (B, C, S, S) -> (B, E).
    ``last_conv`` is the target layer for Grad-CAM.

    Average pooling (the bundled model) reads each pattern's mean over the image. Max pooling
    reads where a pattern is strongest (in a breast image, on the tumour), so evidence against
    response is more often encoded as a pattern present on the tumour than as the absence of
    pro-response patterns. Attention pooling (Ilse et al. 2018, attention-based MIL) learns a
    softmax weight per location from the features themselves and averages with it, so the
    embedding is read from where the encoder finds something worth reading. The README's
    explanations section gives what each changes, measured.
    """

    def __init__(self, in_channels: int, channels: tuple[int, ...], pooling: str = "avg") -> None:
        super().__init__()
        blocks: list[nn.Module] = []
        previous = in_channels
        for width in channels:
            blocks.append(
                nn.Sequential(
                    nn.Conv2d(previous, width, 3, padding=1, bias=False),
                    nn.BatchNorm2d(width),
                    nn.ReLU(),
                    nn.Conv2d(width, width, 3, padding=1, bias=False),
                    nn.BatchNorm2d(width),
                    nn.ReLU(),
                    nn.MaxPool2d(2),
                )
            )
            previous = width
        self.blocks = nn.Sequential(*blocks)
        self.pool = nn.AdaptiveMaxPool2d(1) if pooling == "max" else nn.AdaptiveAvgPool2d(1)
        self.attention = (
            nn.Sequential(nn.Conv2d(previous, 32, 1), nn.Tanh(), nn.Conv2d(32, 1, 1))
            if pooling == "attention"
            else None
        )
        self.out_features = previous

    @property
    def last_conv(self) -> nn.Module:
        """The last block's final ReLU (the activations Grad-CAM weighs)."""
        last = self.blocks[-1]
        assert isinstance(last, nn.Sequential)
        return last[5]

    def activations(self, image: Tensor) -> Tensor:
        """(B, C, S, S) -> the activations of :attr:`last_conv`, (B, E, h, w)."""
        last = self.blocks[-1]
        assert isinstance(last, nn.Sequential)
        return last[:6](self.blocks[:-1](image))

    def embed(self, activations: Tensor) -> Tensor:
        """:attr:`last_conv`'s activations (B, E, h, w) -> the embedding (B, E), the same as
        ``forward`` gives: Grad-CAM runs the convolutions without recording them for autograd,
        then only this part with it."""
        last = self.blocks[-1]
        assert isinstance(last, nn.Sequential)
        return self._pool(last[6:](activations))

    def _pool(self, features: Tensor) -> Tensor:
        """(B, E, h, w) after the last block -> (B, E)."""
        if self.attention is None:
            return self.pool(features).flatten(1)  # (B, E)
        weights = torch.softmax(self.attention(features).flatten(2), dim=-1)  # (B, 1, h * w)
        return (features.flatten(2) * weights).sum(dim=-1)  # (B, E)

    def forward(self, image: Tensor) -> Tensor:
        return self._pool(self.blocks(image))  # (B, E, S / 2**k, S / 2**k) pooled


class MMCRNet(nn.Module):
    """The model. ``forward(image, image_kind, sequence, lengths) -> logits (B, 3)``."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.config = config
        self.image_dim = config.cnn_channels[-1] if config.uses_image else 0
        self.sequence_dim = config.lstm_hidden if config.uses_sequence else 0
        if config.uses_image:
            self.mri_encoder = ImageEncoder(3, config.cnn_channels, config.image_pooling)
            self.mammogram_encoder = ImageEncoder(1, config.cnn_channels, config.image_pooling)
        if config.uses_sequence:
            self.lstm = nn.LSTM(config.feature_dim, config.lstm_hidden, batch_first=True)
        fused = self.image_dim + self.sequence_dim + (len(IMAGE_KINDS) if config.uses_image else 0)
        if config.has_fusion_head:
            self.fusion = nn.Sequential(
                nn.Dropout(config.dropout),
                nn.Linear(fused, config.fusion_hidden),
                nn.ReLU(),
                nn.Dropout(config.dropout),
                nn.Linear(config.fusion_hidden, config.n_classes),
            )
        else:
            self.fusion = nn.Sequential(
                nn.Dropout(config.dropout), nn.Linear(fused, config.n_classes)
            )

    def encoder(self, image_kind: int) -> ImageEncoder:
        """The image encoder of one image kind (MRI or MAMMOGRAM).

        Raises:
            ValueError: a kind without an encoder (no image), or a model that reads no image.
        """
        if self.config.uses_image and image_kind == MRI:
            return self.mri_encoder
        if self.config.uses_image and image_kind == MAMMOGRAM:
            return self.mammogram_encoder
        raise ValueError(f"image kind {image_kind} has no image encoder (0 = no image)")

    def image_branch(self, image: Tensor, image_kind: Tensor) -> Tensor:
        """(B, 3, S, S), (B,) -> image embedding (B, E); zeros where there is no image.

        MRI rows use all three channels, mammogram rows channel 0 only.
        """
        batch = image.shape[0]
        embedding = image.new_zeros((batch, self.image_dim))
        if not self.config.uses_image:
            return embedding
        is_mri, is_mg = image_kind == MRI, image_kind == MAMMOGRAM
        if bool(is_mri.any()):
            embedding = embedding.index_put(
                (is_mri.nonzero()[:, 0],), self.mri_encoder(image[is_mri])
            )
        if bool(is_mg.any()):
            embedding = embedding.index_put(
                (is_mg.nonzero()[:, 0],), self.mammogram_encoder(image[is_mg][:, :1])
            )
        return embedding

    def sequence_branch(self, sequence: Tensor, lengths: Tensor) -> Tensor:
        """(B, T, F), (B,) -> sequence embedding (B, H): the LSTM state after the last observed
        time point (padding comes after it, so it never reaches that state)."""
        if not self.config.uses_sequence:
            return sequence.new_zeros((sequence.shape[0], 0))
        outputs, _ = self.lstm(sequence)  # (B, T, H)
        last = (lengths.clamp(min=1) - 1).to(outputs.device)  # (B,)
        return outputs[torch.arange(outputs.shape[0], device=outputs.device), last]  # (B, H)

    def head(
        self, image_embedding: Tensor, image_kind: Tensor, sequence_embedding: Tensor
    ) -> Tensor:
        """Concatenate the branches (and the image-kind one-hot) -> logits (B, 3)."""
        parts = [image_embedding, sequence_embedding]
        if self.config.uses_image:
            parts.append(
                nn.functional.one_hot(image_kind.long(), len(IMAGE_KINDS)).to(image_embedding.dtype)
            )
        return self.fusion(torch.cat(parts, dim=1))

    def forward(
        self, image: Tensor, image_kind: Tensor, sequence: Tensor, lengths: Tensor
    ) -> Tensor:
        """Logits (B, 3) for images (B, 3, S, S), kinds (B,), sequences (B, T, F), lengths (B,)."""
        return self.head(
            self.image_branch(image, image_kind),
            image_kind,
            self.sequence_branch(sequence, lengths),
        )


def for_inference(model: MMCRNet) -> MMCRNet:
    """``model`` made for predicting only: each convolution and the BatchNorm after it folded
    into one convolution (the BatchNorm becomes an identity, so every block keeps its layers'
    places: ``last_conv`` and the guard's block outputs are where they were), in eval mode.

    The logits agree with the trained model's to float rounding (about 1e-6); the BatchNorm
    passes (about a tenth of the image branch on the CPU) are gone. The model is changed in
    place and returned: call it on a model that is not trained further.
    """
    model.eval()
    for encoder in (getattr(model, "mri_encoder", None), getattr(model, "mammogram_encoder", None)):
        if encoder is None:
            continue
        for block in encoder.blocks:
            assert isinstance(block, nn.Sequential)
            for k in range(len(block) - 1):
                conv, norm = block[k], block[k + 1]
                if isinstance(conv, nn.Conv2d) and isinstance(norm, nn.BatchNorm2d):
                    block[k] = nn.utils.fusion.fuse_conv_bn_eval(conv, norm)
                    block[k + 1] = nn.Identity()
    return model
