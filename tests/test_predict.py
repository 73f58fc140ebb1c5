from __future__ import annotations

from pathlib import Path

import pytest

from mmcrnet.errors import InvalidCase
from mmcrnet.io import read_paths
from mmcrnet.predict import ClinicalCase, Predictor

STATIC = {
    "age": 48,
    "er_percent": 0,
    "pr_percent": 0,
    "her2_status": "negative",
    "grade": 3,
    "ki67_percent": 60,
    "regimen": "AC-T+pembrolizumab",
    "top2a_expr": 1.2,
}
TIMEPOINTS = [
    {"time_point": "T0", "tumor_diameter_cm": 3.1, "ctdna_percent": 1.2},
    {"time_point": "T1", "tumor_diameter_cm": 2.2, "ctdna_percent": 0.1},
]


@pytest.fixture(scope="module")
def predictor(tiny_model_dir: Path) -> Predictor:
    return Predictor(tiny_model_dir, device="cpu")


def test_prediction_with_and_without_image(predictor: Predictor, examples_dir: Path) -> None:
    case = ClinicalCase(STATIC, TIMEPOINTS)
    study = read_paths([sorted((examples_dir / "images").iterdir())[0] / "mri"])
    with_image = predictor.predict(case, study)
    without = predictor.predict(case)
    for prediction in (with_image, without):
        assert sum(prediction.probabilities.values()) == pytest.approx(1.0)
        assert prediction.label == max(prediction.probabilities, key=prediction.probabilities.get)
        assert prediction.time_points == 2 and len(prediction.weights_sha256) == 64
        assert "phantom" in prediction.training_data
    assert with_image.image_kind == "mri" and without.image_kind == "none"
    assert with_image.probabilities != without.probabilities
    assert set(with_image.to_dict()) >= {"probabilities", "label", "uncalibrated", "model"}


@pytest.mark.parametrize(
    "static, timepoints, words",
    [
        ({"age": 300}, TIMEPOINTS, "Age: 300 years"),
        ({"height": 170}, TIMEPOINTS, "'height' is not a static feature"),
        (STATIC, [{"time_point": "T1"}], "T0 is required"),
        (STATIC, [{"time_point": "T0"}, {"time_point": "T0"}], "T0 is given twice"),
        (STATIC, [{"time_point": "T0", "age": 3}], "'age' at T0 is not a per-time-point feature"),
        (
            STATIC,
            [{"time_point": "T0", "week": 0}, {"time_point": "T1", "week": 0}],
            "week 0 at T1 is not after week 0 at T0",
        ),
        (
            STATIC,
            [{"time_point": "T0"}, {"time_point": "T2", "week": 2}],  # T0's nominal week 0
            None,
        ),
        (
            STATIC,
            [{"time_point": "T0", "week": 4}, {"time_point": "T1"}],  # T1's nominal week 3
            "week 3 at T1 is not after week 4 at T0",
        ),
        (STATIC, [{"time_point": "T0", "week": "soon"}], "week 'soon' at T0 is not a number"),
        (
            STATIC,
            [{"time_point": "T0", "week": 60}],
            "Week 60 at T0 is outside the accepted range 0 to 52",
        ),
    ],
)
def test_clinical_input_is_checked_and_a_bad_field_named(
    predictor: Predictor, static: dict, timepoints: list, words: str
) -> None:
    if words is None:  # valid: predicts
        assert predictor.predict(ClinicalCase(static, timepoints)).time_points == 2
        return
    with pytest.raises(InvalidCase, match=words):
        predictor.predict(ClinicalCase(static, timepoints))


def test_case_from_cohort_tables(examples_dir: Path) -> None:
    from mmcrnet.cohort import load_cohort

    cohort = load_cohort(examples_dir)
    case = ClinicalCase.from_tables(cohort.cases, cohort.timepoints, cohort.case_ids[0])
    case.validate()
    assert [row["time_point"] for row in case.timepoints] == ["T0", "T1", "T2", "T3"]
    with pytest.raises(InvalidCase, match="case 'nope' is not in the cohort"):
        ClinicalCase.from_tables(cohort.cases, cohort.timepoints, "nope")
