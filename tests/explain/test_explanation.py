"""The whole explanation of one case: one typed, serialisable result."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from mmcrnet.checkpoint import InvalidModel
from mmcrnet.errors import InvalidCase
from mmcrnet.explain import ATTRIBUTED, Explainer
from mmcrnet.io import read_paths
from mmcrnet.predict import ClinicalCase, Predictor

from .test_sequence import STATIC, TIMEPOINTS


@pytest.fixture(scope="module")
def explainer(tiny_model_dir: Path) -> Explainer:
    return Explainer(Predictor(tiny_model_dir, device="cpu"), steps=32)


def test_explanation_of_an_mri_case(explainer: Explainer, examples_dir: Path) -> None:
    study = read_paths([examples_dir / "images" / "PH00019" / "mri"])
    case = ClinicalCase(STATIC, TIMEPOINTS)
    explanation = explainer.explain(case, study)
    assert explanation.prediction == explainer.predictor.predict(case, study)
    assert explanation.target == explanation.prediction.label
    image = explanation.image
    assert image is not None and image.kind == "mri" and len(image.channels) == 3
    for cam in image.maps.values():
        assert cam.shape == study.image.shape[-2:] and np.abs(cam).max() <= 1.0 + 1e-6
    sequence = explanation.sequence
    assert sequence is not None and sequence.time_points == ("T0", "T1", "T2")
    assert sequence.weeks == (0.0, 3.0, 6.0)
    assert sequence.integrated_gradients.shape == (3, len(ATTRIBUTED))
    assert sequence.relative_delta < 0.01
    assert sum(sequence.totals().values()) == pytest.approx(
        sequence.score - sequence.baseline_score, abs=0.01 * abs(sequence.score) + 1e-3
    )
    last = explanation.trajectory[-1]
    assert [r["time_point"] for r in explanation.trajectory] == ["T0", "T1", "T2"]
    for outcome, p in explanation.prediction.probabilities.items():
        assert last[outcome] == pytest.approx(p, abs=1e-5)
        assert explanation.modalities.everything[
            list(explanation.prediction.probabilities).index(outcome)
        ] == pytest.approx(p, abs=1e-5)
    data = json.loads(json.dumps(explanation.to_dict()))
    assert set(data) >= {"prediction", "image", "sequence", "modalities", "trajectory"}
    assert np.array(data["image"]["maps"]["gradcam"]).shape == study.image.shape[-2:]
    assert "maps" not in explanation.to_dict(include_maps=False)["image"]


def test_statements_read_like_a_clinician_would(explainer: Explainer) -> None:
    explanation = explainer.explain(ClinicalCase(STATIC, TIMEPOINTS), target="none")
    assert explanation.image is None and explanation.target == "none"
    statements = explanation.statements(50)
    values = [abs(s.value) for s in statements]
    assert values == sorted(values, reverse=True)
    for s in statements:
        direction = "towards" if s.value > 0 else "away from"
        assert s.text.endswith(f": {direction} none")
        if s.time_point is not None:  # dynamic features by time point, in weeks
            assert f" at week {s.week:g}:" in s.text
    texts = " | ".join(s.text for s in statements)
    # Each reason gives the case's value with its unit, where and when.
    assert "Tumour diameter 2.1 cm at week 3" in texts and "Ki-67 index 70 %:" in texts
    assert "Subtype HER2+ (from ER, PR and HER2)" in texts


def test_bad_target_and_models_without_a_reference(
    explainer: Explainer, tiny_model_dir: Path, tmp_path: Path
) -> None:
    with pytest.raises(InvalidCase, match="target 'cure' is not one of pCR, partial, none"):
        explainer.explain(ClinicalCase(STATIC, TIMEPOINTS), target="cure")
    folder = tmp_path / "model"
    shutil.copytree(tiny_model_dir, folder)
    card = json.loads((folder / "model.json").read_text())
    del card["reference_patient"]
    (folder / "model.json").write_text(json.dumps(card))
    with pytest.raises(InvalidModel, match="no reference_patient"):
        Explainer(Predictor(folder, device="cpu"))


def test_a_skipped_time_point_keeps_its_label(explainer: Explainer) -> None:
    gap = [TIMEPOINTS[0], {**TIMEPOINTS[2], "time_point": "T2"}]  # T0 and T2, no T1
    explanation = explainer.explain(ClinicalCase(STATIC, gap))
    assert explanation.sequence is not None
    assert explanation.sequence.time_points == ("T0", "T2")
    assert explanation.sequence.weeks == (0.0, 6.0)
    assert [row["time_point"] for row in explanation.trajectory] == ["T0", "T2"]
    texts = " | ".join(s.text for s in explanation.statements(50))
    assert "at week 3" not in texts


def test_axis_maps_and_the_story_they_tell_with_the_modalities(
    explainer: Explainer, examples_dir: Path
) -> None:
    import dataclasses

    study = read_paths([examples_dir / "images" / "PH00019" / "mri"])
    case = ClinicalCase(STATIC, TIMEPOINTS)
    explanation = explainer.explain(case, study)
    image = explanation.image
    assert image is not None and set(image.axis_maps) == set(image.maps)
    # the response axis does not depend on the outcome explained
    for target in ("pCR", "none"):
        other = explainer.explain(case, study, target)
        assert other.image is not None
        np.testing.assert_allclose(other.image.axis_maps["gradcam"], image.axis_maps["gradcam"])
    # the story: silent when map and image contribution agree, one sentence when they do not
    image_row = 0  # MODALITIES: image, clinical, genomic
    pcr_minus_none = (
        explanation.modalities.shapley[image_row, 0]
        - (explanation.modalities.shapley[image_row, 2])
    )
    agreeing = np.full_like(image.axis_maps["gradcam"], np.sign(pcr_minus_none) or 1.0)
    for maps, said in ((agreeing, False), (-agreeing, True)):
        changed = dataclasses.replace(
            explanation, image=dataclasses.replace(image, axis_maps={"gradcam": maps})
        )
        story = changed.image_story()
        assert (story is not None) == said or pcr_minus_none == 0
    assert "axis_maps" in json.loads(json.dumps(explanation.to_dict()))["image"]
