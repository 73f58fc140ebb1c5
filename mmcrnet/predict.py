"""One-case and batch inference: a case (its image study and its clinical/genomic values per
time point) -> calibrated probabilities of pCR / partial / none."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from mmcrnet.case import ClinicalCase, FieldProblem  # noqa: F401 - predict's input, re-exported
from mmcrnet.checkpoint import load_model
from mmcrnet.data import EncodedSequences, encode_sequences
from mmcrnet.errors import InvalidArgument
from mmcrnet.features import OUTCOMES
from mmcrnet.io import Study
from mmcrnet.metrics import softmax
from mmcrnet.model import for_inference
from mmcrnet.preprocess import IMAGE_KINDS, IMAGE_SIZE, NO_IMAGE, ModelImage, model_image


@dataclass(frozen=True)
class Prediction:
    """A calibrated prediction and what produced it."""

    probabilities: dict[str, float]  # calibrated, in OUTCOMES order
    label: str
    uncalibrated: dict[str, float]
    image_kind: str  # "mri", "mammogram" or "none"
    time_points: int
    model: str
    weights_sha256: str
    temperature: float
    training_data: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def compute_device(name: str | torch.device | None = None) -> torch.device:
    """``name`` as a torch device, CUDA when present if None.

    Raises:
        ValueError: not a device name, or CUDA asked for where there is none.
    """
    if name is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise InvalidArgument(
            f"device '{name}' is not a device name (cpu, cuda, cuda:0, ...)"
        ) from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise InvalidArgument(f"device '{name}': CUDA is not available on this machine")
    if device.type not in ("cpu", "cuda"):
        raise InvalidArgument(f"device '{name}': only cpu and cuda are supported")
    return device


@dataclass(frozen=True)
class PreparedInput:
    """Model inputs of one case: image (1, 3, S, S), kind (1,), sequence (1, T, F), length (1,);
    ``image_input`` records which phases and slice the image holds and its geometry (None
    without an image, or for batches built elsewhere)."""

    image: torch.Tensor
    kind: torch.Tensor
    sequence: torch.Tensor
    length: torch.Tensor
    image_input: ModelImage | None = None


class Predictor:
    """A loaded model (weights hash checked) that predicts one case at a time."""

    def __init__(self, model_dir: Path | str, device: str | torch.device | None = None) -> None:
        """Load the model in ``model_dir`` on ``device`` (default: CUDA when present).

        Raises:
            InvalidModel: a missing file or a weights hash that does not match the card;
            ValueError: an unknown device, or CUDA asked for on a machine without it.
        """
        self.device = compute_device(device)
        model, self.card = load_model(Path(model_dir), self.device)
        # BatchNorm folded into the convolutions, and their weights stored channels-last: the
        # same logits to float rounding, about twice the cases a second on the CPU
        self.model = for_inference(model).to(memory_format=torch.channels_last)
        self.temperature = float(self.card["temperature"])

    @property
    def name(self) -> str:
        return str(self.card.get("name", "MM-CRNet"))

    def prepare(
        self,
        clinical: ClinicalCase,
        study: Study | None = None,
        encoded: EncodedSequences | None = None,
    ) -> PreparedInput:
        """Validate and encode a case.

        Args:
            encoded: the case's sequence already encoded for this model's groups (one case of a
                cohort encoded at once, the same function on the same rows), else encoded here.
        Raises:
            InvalidCase: a bad clinical value; UnsupportedImage: an image the model cannot read.
        """
        clinical.validate()
        if encoded is None:
            cases, timepoints = clinical.tables()
            encoded = encode_sequences(cases, timepoints, self.model.config.groups)
        image = np.zeros((1, 3, IMAGE_SIZE, IMAGE_SIZE), dtype=np.float32)
        kind, read = NO_IMAGE, None
        if study is not None and self.model.config.uses_image:
            read = model_image(study)
            kind = read.kind
            image[0, : read.pixels.shape[0]] = read.pixels
        return PreparedInput(
            torch.from_numpy(image).to(self.device).contiguous(memory_format=torch.channels_last),
            torch.tensor([kind], device=self.device),
            torch.from_numpy(encoded.values).to(self.device),
            torch.from_numpy(encoded.lengths).to(self.device),
            read,
        )

    @torch.no_grad()
    def logits(self, prepared: PreparedInput) -> np.ndarray:
        """(1, 3) uncalibrated logits."""
        return (
            self.model(prepared.image, prepared.kind, prepared.sequence, prepared.length)
            .float()
            .cpu()
            .numpy()
        )

    def predict(self, clinical: ClinicalCase, study: Study | None = None) -> Prediction:
        prepared = self.prepare(clinical, study)
        return self.prediction(prepared, self.logits(prepared))

    def prediction(self, prepared: PreparedInput, logits: np.ndarray) -> Prediction:
        """The typed result for a prepared case and its (1, 3) logits."""
        calibrated = softmax(logits, self.temperature)[0]
        raw = softmax(logits)[0]
        return Prediction(
            probabilities={c: float(p) for c, p in zip(OUTCOMES, calibrated)},
            label=OUTCOMES[int(calibrated.argmax())],
            uncalibrated={c: float(p) for c, p in zip(OUTCOMES, raw)},
            image_kind=IMAGE_KINDS[int(prepared.kind[0])],
            time_points=int(prepared.length[0]),
            model=self.name,
            weights_sha256=str(self.card["weights"]["sha256"]),
            temperature=self.temperature,
            training_data=str(self.card.get("training_data")),
        )
