"""OncoPredict engine: phantom cohorts, image reading, the feature schema and (later) MM-CRNet.

Pages and the CLI import from here. Research use only, not for clinical decisions.
"""

from __future__ import annotations

from mmcrnet.cohort import Cohort, load_cohort
from mmcrnet.errors import (BadArchive, CohortProblem, CorruptDicom, EmptyArchive, ImageTooLarge,
                            InvalidCase, InvalidCohort, MixedSeries, NoPixelData,
                            OncoPredictError, UnreadableImage, UnsafeArchive, UnsupportedImage,
                            WrongFileType)
from mmcrnet.features import FEATURES, OUTCOMES, SUBTYPES, TIME_POINTS, WEEKS, Feature

__version__ = "0.1.0"

#: Shown on every page that shows a prediction, and in every report.
DISCLAIMER = "Research use only — not for clinical decisions."

__all__ = [
    "BadArchive", "Cohort", "CohortProblem", "CorruptDicom", "DISCLAIMER", "EmptyArchive",
    "FEATURES", "Feature", "ImageTooLarge", "InvalidCase", "InvalidCohort", "MixedSeries",
    "NoPixelData", "OUTCOMES", "OncoPredictError", "SUBTYPES", "TIME_POINTS", "UnreadableImage",
    "UnsafeArchive", "UnsupportedImage", "WEEKS", "WrongFileType", "__version__", "load_cohort",
]
