"""OncoPredict engine: phantom cohorts, image reading, the feature schema, MM-CRNet, its
predictions and their explanations.

Pages and the CLI import from here. The model-side names (Predictor, Explainer, ...) load torch,
so they are imported on first use. Research use only, not for clinical decisions.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mmcrnet.errors import (
    BadArchive,
    CohortProblem,
    CorruptDicom,
    EmptyArchive,
    ImageTooLarge,
    InvalidCase,
    InvalidCohort,
    MixedIdentity,
    MixedSeries,
    NoPixelData,
    OncoPredictError,
    UnreadableImage,
    UnsafeArchive,
    UnsupportedImage,
    WrongFileType,
)
from mmcrnet.report import (
    APP_VERSION,
    DISCLAIMER,
)  # shown on every page with a prediction, in every report

if TYPE_CHECKING:  # the lazy names below, for type checkers
    from mmcrnet.case import ClinicalCase
    from mmcrnet.casefile import read_case_file
    from mmcrnet.checkpoint import InvalidModel
    from mmcrnet.cohort import Cohort, load_cohort
    from mmcrnet.explain import MODALITIES, Explainer, Explanation, feature_label
    from mmcrnet.features import (
        FEATURES,
        OUTCOMES,
        SUBTYPES,
        TIME_POINTS,
        WEEK_BOUNDS,
        WEEKS,
        Feature,
    )
    from mmcrnet.guard import Guard, GuardReport
    from mmcrnet.io import RawFile, Study, read_paths, read_study
    from mmcrnet.predict import Prediction, Predictor, compute_device
    from mmcrnet.preprocess import ModelImage, dce_phase_indices, model_image
    from mmcrnet.report import CaseReport, case_report

__version__ = APP_VERSION

#: Names that load torch or pandas: imported on first access (PEP 562), so ``import mmcrnet``
#: stays light (the decoding sandbox's child starts from it).
_LAZY = {
    "Cohort": "mmcrnet.cohort",
    "load_cohort": "mmcrnet.cohort",
    **{
        name: "mmcrnet.features"
        for name in ("FEATURES", "OUTCOMES", "SUBTYPES", "TIME_POINTS", "WEEK_BOUNDS", "WEEKS")
    },
    "Feature": "mmcrnet.features",
    "ClinicalCase": "mmcrnet.case",
    "Prediction": "mmcrnet.predict",
    "Predictor": "mmcrnet.predict",
    "compute_device": "mmcrnet.predict",
    "Explainer": "mmcrnet.explain",
    "Explanation": "mmcrnet.explain",
    "MODALITIES": "mmcrnet.explain",
    "feature_label": "mmcrnet.explain",
    "InvalidModel": "mmcrnet.checkpoint",
    "Study": "mmcrnet.io",
    "RawFile": "mmcrnet.io",
    "read_study": "mmcrnet.io",
    "read_paths": "mmcrnet.io",
    "dce_phase_indices": "mmcrnet.preprocess",
    "model_image": "mmcrnet.preprocess",
    "ModelImage": "mmcrnet.preprocess",
    "Guard": "mmcrnet.guard",
    "GuardReport": "mmcrnet.guard",
    "read_case_file": "mmcrnet.casefile",
    "CaseReport": "mmcrnet.report",
    "case_report": "mmcrnet.report",
}


def __getattr__(name: str) -> object:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'mmcrnet' has no attribute '{name}'")


__all__ = [  # the eager names and the lazy ones (_LAZY)
    "__version__",
    "BadArchive",
    "case_report",
    "CaseReport",
    "ClinicalCase",
    "Cohort",
    "CohortProblem",
    "compute_device",
    "CorruptDicom",
    "dce_phase_indices",
    "DISCLAIMER",
    "EmptyArchive",
    "Explainer",
    "Explanation",
    "Feature",
    "feature_label",
    "FEATURES",
    "Guard",
    "GuardReport",
    "ImageTooLarge",
    "InvalidCase",
    "InvalidCohort",
    "InvalidModel",
    "load_cohort",
    "MixedIdentity",
    "MixedSeries",
    "MODALITIES",
    "model_image",
    "ModelImage",
    "NoPixelData",
    "OncoPredictError",
    "OUTCOMES",
    "Prediction",
    "Predictor",
    "RawFile",
    "read_case_file",
    "read_paths",
    "read_study",
    "Study",
    "SUBTYPES",
    "TIME_POINTS",
    "UnreadableImage",
    "UnsafeArchive",
    "UnsupportedImage",
    "WEEK_BOUNDS",
    "WEEKS",
    "WrongFileType",
]
