"""The out-of-distribution guard: known distances, hash checks, header and tabular checks, and
the bundled guard on a known-bad and a known-good image."""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from mmcrnet.checkpoint import InvalidModel
from mmcrnet.features import DYNAMIC_FEATURES, STATIC_FEATURES
from mmcrnet.guard import (
    EmbeddingDensity,
    Guard,
    ImageDensity,
    _dce_copies,
    fit_gaussian,
    header_checks,
    tabular_check,
)
from mmcrnet.io import read_paths, read_study

ROOT = Path(__file__).resolve().parent.parent
MODELS = ROOT / "models"


def _pydicom_file(name: str) -> str:
    from pydicom.data import get_testdata_file

    path = get_testdata_file(name)
    assert path is not None, f"pydicom ships {name}"
    return str(path)


def test_mahalanobis_of_a_hand_made_gaussian() -> None:
    density = EmbeddingDensity(np.array([1.0, 2.0]), np.diag([1 / 4, 1.0]))
    assert np.allclose(
        density.distances(np.array([[3.0, 2.0], [1.0, 5.0], [1.0, 2.0]])), [1.0, 3.0, 0.0]
    )


def test_fitted_gaussian_recovers_the_distances() -> None:
    rng = np.random.default_rng(0)
    sample = rng.normal(0.0, [2.0, 1.0], size=(20000, 2))
    mean, precision = fit_gaussian(sample)
    distances = EmbeddingDensity(mean, precision).distances(np.array([[4.0, 0.0], [0.0, 3.0]]))
    assert np.allclose(distances, [2.0, 3.0], rtol=0.05)


def test_image_density_takes_the_largest_relative_layer() -> None:
    identity = np.eye(2)
    density = ImageDensity(
        {
            "a": EmbeddingDensity(np.zeros(2), identity, 2.0),
            "b": EmbeddingDensity(np.zeros(2), identity, 1.0),
        },
        threshold=2.5,
    )
    scores, largest = density.scores({"a": np.array([[6.0, 8.0]]), "b": np.array([[0.0, 3.0]])})
    assert scores.tolist() == [5.0] and largest.tolist() == [0]


def _small_guard(folder: Path) -> None:
    (folder / "model.json").write_text(json.dumps({"weights": {"sha256": "ab" * 32}}))
    layer = EmbeddingDensity(np.zeros(2), np.eye(2), 1.0)
    Guard(
        {"mri": ImageDensity({"block1": layer}, 3.0)},
        {"age": (24.0, 85.0)},
        {
            "model_sha256": "ab" * 32,
            "layers": ["block1"],
            "thresholds": {"mri": 3.0},
            "feature_ranges": {"age": [24.0, 85.0]},
        },
    ).save(folder)


def test_guard_round_trips_and_refuses_a_changed_file(tmp_path: Path) -> None:
    _small_guard(tmp_path)
    guard = Guard.load(tmp_path)
    assert guard.thresholds == {"mri": 3.0} and guard.ranges == {"age": (24.0, 85.0)}
    data = bytearray((tmp_path / "guard.safetensors").read_bytes())
    data[-1] ^= 0xFF
    (tmp_path / "guard.safetensors").write_bytes(bytes(data))
    with pytest.raises(InvalidModel, match="does not match"):
        Guard.load(tmp_path)


def test_guard_refuses_other_weights_and_missing_files(tmp_path: Path) -> None:
    _small_guard(tmp_path)
    (tmp_path / "model.json").write_text(json.dumps({"weights": {"sha256": "cd" * 32}}))
    with pytest.raises(InvalidModel, match="fitted for model weights"):
        Guard.load(tmp_path)
    (tmp_path / "guard.json").unlink()
    with pytest.raises(InvalidModel, match="no guard.json"):
        Guard.load(tmp_path)


def test_header_checks_flag_a_ct_study() -> None:
    reasons = header_checks(read_paths([_pydicom_file("CT_small.dcm")]))
    assert reasons == (
        "modality CT (ct): the model reads breast DCE-MRI (MR) and mammograms (MG) only",
    )


def test_header_checks_flag_a_64_pixel_mr() -> None:
    study = read_paths([_pydicom_file("MR_small.dcm")])
    reasons = header_checks(study)
    assert "matrix 64 x 64 pixels: the model supports 128 to 1024 pixels a side for MRI" in reasons
    assert "1 phase: a DCE-MRI needs at least 2 (pre- and post-contrast)" in reasons
    assert any(r.startswith("pixel spacing 0.3125 x 0.3125 mm") for r in reasons)


def test_header_checks_pass_a_bundled_example_and_flag_other_planes(examples_dir: Path) -> None:
    study = read_paths([examples_dir / "images" / "PH00000" / "mri"])
    assert header_checks(study) == ()
    if "orientation" not in {f.name for f in dataclasses.fields(study)}:
        pytest.skip("this reader does not record the orientation")
    sagittal = dataclasses.replace(study, orientation=(0.0, 1.0, 0.0, 0.0, 0.0, -1.0))
    assert header_checks(sagittal) == (
        "orientation sagittal (slice normal 90 degrees from axial): the model was trained on "
        "axial slices (tolerance 25 degrees)",
    )
    tilted = dataclasses.replace(study, orientation=(1.0, 0.0, 0.0, 0.0, 0.9397, -0.342))
    assert header_checks(tilted) == ()  # 20 degrees: within the tolerance
    abdomen = dataclasses.replace(study, body_part="ABDOMEN")
    assert header_checks(abdomen) == (
        "body part ABDOMEN: the model was trained on BREAST images only",
    )


def test_tabular_out_of_range_and_missingness() -> None:
    ranges = {"age": (24.0, 85.0), "tumor_diameter_cm": (0.5, 10.5)}
    result = tabular_check(
        {"age": 99, "bmi": 30, "grade": 2},
        [
            {"time_point": "T0", "tumor_diameter_cm": 3.0, "ctdna_percent": 1},
            {"time_point": "T1", "tumor_diameter_cm": 13.0},
        ],
        ranges,
    )
    assert result.reasons[0] == "Age 99 years is outside the training range 24 to 85 years"
    assert result.reasons[1] == (
        "Tumour diameter at T1 13 cm is outside the training range 0.5 to 10.5 cm"
    )
    assert result.reasons[2].startswith(f"only 3 of {len(STATIC_FEATURES)} baseline values")
    assert result.values_present == 3 + 3
    assert result.values_possible == len(STATIC_FEATURES) + 2 * len(DYNAMIC_FEATURES)
    assert result.heavy_missing


def test_tabular_within_the_margin_is_fine() -> None:
    clinical_static = [s for s in STATIC_FEATURES if s.group == "clinical"]
    given = clinical_static[: (len(clinical_static) + 1) // 2]  # half, rounded up
    static: dict[str, object] = {
        s.name: s.categories[0]
        if s.kind == "categorical"
        else 1
        if s.kind == "binary"
        else s.bounds[0]
        for s in given
    }
    static["age"] = 90  # 85 + 10 % of 61 = 91.1
    result = tabular_check(
        static, [{"time_point": "T0"}], {"age": (24.0, 85.0)}, groups=("clinical",)
    )
    assert result.reasons == () and not result.heavy_missing
    assert result.values_present == len(given)
    assert result.values_possible == len(clinical_static) + 2  # clinical dynamic: 2 of 3


@pytest.fixture(scope="module")
def bundled():
    if not (MODELS / "guard.json").is_file():
        pytest.skip("no bundled guard (run: python -m mmcrnet guard fit --model models)")
    from mmcrnet.predict import Predictor

    return Predictor(MODELS, device="cpu"), Guard.load(MODELS)


def _example_case(examples_dir: Path):
    from mmcrnet.cohort import load_cohort
    from mmcrnet.predict import ClinicalCase

    cohort = load_cohort(examples_dir, require_outcomes=False)
    return ClinicalCase.from_tables(cohort.cases, cohort.timepoints, "PH00000")


def test_bundled_guard_passes_a_bundled_example(bundled, examples_dir: Path) -> None:
    predictor, guard = bundled
    clinical = _example_case(examples_dir)
    for folder in ("mri", "mammogram.dcm"):
        study = read_paths([examples_dir / "images" / "PH00000" / folder])
        report = guard.check(study, predictor.prepare(clinical, study), clinical, predictor.model)
        assert report.ok, report.to_dict()
        assert report.image_distance is not None and report.image_threshold is not None
    report = guard.check(None, predictor.prepare(clinical, None), clinical, predictor.model)
    assert report.image_reasons == () and report.image_distance is None and report.ok


def test_bundled_guard_flags_mr_small_as_a_dce(bundled, examples_dir: Path) -> None:
    predictor, guard = bundled
    clinical = _example_case(examples_dir)
    study = read_study(_dce_copies(Path(_pydicom_file("MR_small.dcm"))))
    assert study.shape[0] == 3
    report = guard.check(study, predictor.prepare(clinical, study), clinical, predictor.model)
    assert not report.image_ok and report.tabular_ok
    assert any(r.startswith("matrix 64 x 64") for r in report.image_reasons)
    assert report.to_dict()["ok"] is False


def test_fit_refuses_the_training_seed(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    from mmcrnet.__main__ import main

    shutil.copy(MODELS / "model.json", tmp_path / "model.json")
    assert main(["guard", "fit", "--model", str(tmp_path), "--seed", "7"]) == 2
    assert "training or the test seed" in capsys.readouterr().err
    assert not (tmp_path / "guard.json").exists()
