"""The check against the truth: the pieces with known answers, and a small end-to-end run."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from mmcrnet.explain import Explainer
from mmcrnet.explain.evaluate import (
    BASELINE_FEATURES,
    PROXY_GROUPS,
    _spearman,
    baseline_attributions,
    evaluate_explanations,
    group_proxies,
    image_supports_prediction,
    randomisation_steps,
    true_contributions,
)
from mmcrnet.explain.sequence import ATTRIBUTED
from mmcrnet.phantom.cohort import ETA_TERMS, expected_probabilities, generate_cohort
from mmcrnet.predict import Predictor


def test_true_contributions_sum_the_baseline_terms() -> None:
    cohort = generate_cohort(300, 4)
    truth = true_contributions(cohort)
    baseline_terms = [t for t, _, owner in ETA_TERMS if owner in BASELINE_FEATURES]
    np.testing.assert_allclose(
        truth.sum(axis=1), cohort.contributions[baseline_terms].sum(axis=1), atol=1e-9
    )
    np.testing.assert_allclose(truth.mean(axis=0), 0.0, atol=1e-9)  # against the cohort mean
    regimen = truth[:, BASELINE_FEATURES.index("regimen")]
    np.testing.assert_allclose(regimen, cohort.contributions[["tchp", "pembrolizumab"]].sum(axis=1))
    for null in ("bmi", "actb_expr", "pr_percent"):
        assert not truth[:, BASELINE_FEATURES.index(null)].any()


def test_baseline_attributions_and_proxy_groups() -> None:
    table = np.zeros((3, len(ATTRIBUTED)))
    table[:, ATTRIBUTED.index("age")] = [1.0, 2.0, 3.0]
    table[:, ATTRIBUTED.index("tumor_diameter_cm")] = [0.5, 7.0, 7.0]  # only T0 counts
    table[:, ATTRIBUTED.index("ctdna_percent")] = 9.0  # dynamic: not a baseline feature
    out = baseline_attributions(table)
    assert out[BASELINE_FEATURES.index("age")] == 6.0
    assert out[BASELINE_FEATURES.index("tumor_diameter_cm")] == 0.5
    assert out.sum() == 6.5
    values = np.arange(len(BASELINE_FEATURES), dtype=float)
    grouped = group_proxies(values)
    assert grouped.shape == (len(BASELINE_FEATURES) - len(PROXY_GROUPS),)
    assert grouped.sum() == values.sum()
    er = BASELINE_FEATURES.index("er_percent"), BASELINE_FEATURES.index("esr1_expr")
    assert values[list(er)].sum() in grouped


def test_the_image_supports_pcr_when_its_terms_raise_eta_and_none_when_they_lower_it() -> None:
    cohort = generate_cohort(2000, 6)
    image_terms = [term for term, _, owner in ETA_TERMS if owner == "image"]
    image = cohort.contributions[image_terms].to_numpy().sum(axis=1)
    predicted = expected_probabilities(cohort.truth["eta"].to_numpy()).argmax(axis=1)
    supports = image_supports_prediction(cohort, predicted)
    pcr, none = predicted == 0, predicted == 2
    assert pcr.sum() > 100 and none.sum() > 100
    np.testing.assert_array_equal(supports[pcr], image[pcr] > 0)
    np.testing.assert_array_equal(supports[none], image[none] < 0)
    # Asked about another outcome, the answer changes: the same tumour cannot argue for both.
    assert not (supports[pcr] & image_supports_prediction(cohort, np.full(2000, 2))[pcr]).any()


def test_spearman_of_a_constant_is_zero() -> None:
    assert _spearman(np.ones(5), np.arange(5.0)) == 0.0
    assert _spearman(np.arange(5.0), np.arange(5.0) ** 3) == pytest.approx(1.0)


def test_randomisation_goes_top_down(tiny_model_dir: Path) -> None:
    model = Predictor(tiny_model_dir, device="cpu").model
    names = [name for name, _ in randomisation_steps(model)]
    assert names == ["fusion head", "mri_encoder.blocks.1", "mri_encoder.blocks.0"]


def test_small_end_to_end_run(tiny_model_dir: Path, phantom_cases) -> None:
    from mmcrnet.datasets import subset

    n = 12
    cases = subset(phantom_cases, np.arange(n))
    cohort = generate_cohort(300, 5).subset(np.arange(n))
    explainer = Explainer(Predictor(tiny_model_dir, device="cpu"), steps=16)
    seen = []
    report = evaluate_explanations(
        explainer,
        cases,
        cohort,
        sanity_cases=4,
        progress=lambda done, total: seen.append((done, total)),
    )
    assert seen[-1] == (n, n) and report.n == n
    maps = report.image_maps["mri/gradcam"]
    assert 0 <= maps["pointing_game"] <= 1 and 0 <= maps["energy_in_mask"] <= 1
    assert 0 < maps["mask_area_fraction"] < 0.5
    assert set(report.image_maps) >= {
        "mri/hirescam",
        "mri/gradcam, pCR vs none",
        "mammogram/gradcam",
    }
    supported = maps["pointing_where_image_supports_prediction"]
    against = maps["pointing_where_image_argues_against"]
    share = report.image_maps["image_supports_prediction_fraction"]
    assert 0 <= share <= 1
    if 0 < share < 1:  # the overall figure is the two groups' figures, weighted by their share
        assert maps["pointing_game"] == pytest.approx(
            share * supported + (1 - share) * against, abs=1e-3
        )
    assert (
        "pointing_where_image_supports_prediction"
        not in (report.image_maps["mri/gradcam, pCR vs none"])
    )
    assert 0 <= report.sequence["null_share"]["predicted"] <= 1
    assert report.sequence["ig_relative_delta_median"] < 0.05
    assert [row["randomised_through"] for row in report.sanity][-1] == "mri_encoder.blocks.0"
    assert report.sanity[-1]["gradcam"] < 0.9  # a fully randomised encoder changes the maps
    agreement = report.truth_agreement["baseline=reference"]
    assert -1 <= agreement["spearman_median"] <= 1
    assert report.passed == all(report.targets.values())
    assert report.to_dict()["targets"] == report.targets
