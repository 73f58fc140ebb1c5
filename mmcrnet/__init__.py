"""OncoPredict engine: phantom cohorts, image reading, the feature schema, MM-CRNet, its
predictions and their explanations.

Pages and the CLI import from here. The model-side names (Predictor, Explainer, ...) load torch,
so they are imported on first use. Research use only, not for clinical decisions.
"""

from __future__ import annotations

from mmcrnet.cohort import Cohort, load_cohort
from mmcrnet.errors import (BadArchive, CohortProblem, CorruptDicom, EmptyArchive, ImageTooLarge,
                            InvalidCase, InvalidCohort, MixedIdentity, MixedSeries, NoPixelData,
                            OncoPredictError, UnreadableImage, UnsafeArchive, UnsupportedImage,
                            WrongFileType)
from mmcrnet.features import (FEATURES, OUTCOMES, SUBTYPES, TIME_POINTS, WEEK_BOUNDS, WEEKS,
                              Feature)

from mmcrnet.report import DISCLAIMER  # shown on every page with a prediction, in every report

__version__ = "0.1.0"

#: Names that load torch: imported on first access (PEP 562), so ``import mmcrnet`` stays light.
_LAZY = {
    "ClinicalCase": "mmcrnet.case", "Prediction": "mmcrnet.predict",
    "Predictor": "mmcrnet.predict", "compute_device": "mmcrnet.predict",
    "Explainer": "mmcrnet.explain", "Explanation": "mmcrnet.explain",
    "MODALITIES": "mmcrnet.explain", "feature_label": "mmcrnet.explain",
    "InvalidModel": "mmcrnet.checkpoint",
    "Study": "mmcrnet.io", "RawFile": "mmcrnet.io", "read_study": "mmcrnet.io",
    "read_paths": "mmcrnet.io", "dce_phase_indices": "mmcrnet.preprocess",
    "model_image": "mmcrnet.preprocess", "ModelImage": "mmcrnet.preprocess",
    "Guard": "mmcrnet.guard", "GuardReport": "mmcrnet.guard",
    "read_case_file": "mmcrnet.casefile",
    "CaseReport": "mmcrnet.report", "case_report": "mmcrnet.report",
}


def __getattr__(name: str) -> object:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'mmcrnet' has no attribute '{name}'")


__all__ = [*_LAZY,
    "BadArchive", "Cohort", "CohortProblem", "CorruptDicom", "DISCLAIMER", "EmptyArchive",
    "FEATURES", "Feature", "ImageTooLarge", "InvalidCase", "InvalidCohort", "MixedIdentity",
    "MixedSeries",
    "NoPixelData", "OUTCOMES", "OncoPredictError", "SUBTYPES", "TIME_POINTS", "UnreadableImage",
    "UnsafeArchive", "UnsupportedImage", "WEEK_BOUNDS", "WEEKS", "WrongFileType", "__version__",
    "load_cohort",
]
