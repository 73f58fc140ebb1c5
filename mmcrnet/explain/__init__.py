"""Why the model predicted what it did: image maps, feature attributions over time, modality
Shapley values (one typed :class:`Explanation`), and their check against the phantom's truth."""

from mmcrnet.explain.explanation import (
    Explainer,
    Explanation,
    ImageExplanation,
    SequenceExplanation,
    Statement,
    feature_label,
)
from mmcrnet.explain.gradcam import CAM_METHODS
from mmcrnet.explain.modalities import MODALITIES, ModalityAttribution
from mmcrnet.explain.sequence import ATTRIBUTED

__all__ = [
    "ATTRIBUTED",
    "CAM_METHODS",
    "MODALITIES",
    "Explainer",
    "Explanation",
    "ImageExplanation",
    "ModalityAttribution",
    "SequenceExplanation",
    "Statement",
    "feature_label",
]
