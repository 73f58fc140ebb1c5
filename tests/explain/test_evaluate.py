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
    assert set(report.image_maps) >= {"mri/hirescam", "mammogram/gradcam", "response_axis"}
    axis = report.image_maps["response_axis"]
    assert set(axis) >= {"mri/gradcam", "mri/hirescam", "mammogram/gradcam"}
    for key in ("mri/gradcam", "mammogram/gradcam"):
        row = axis[key]
        assert 0 <= row["localisation"] <= 1 and 0 <= row["share_in_mask"] <= 1
        assert -1 <= row["spearman_mass_vs_image_term"] <= 1
    supported = maps["pointing_where_image_supports_prediction"]
    against = maps["pointing_where_image_argues_against"]
    share = report.image_maps["image_supports_prediction_fraction"]
    assert 0 <= share <= 1
    if 0 < share < 1:  # the overall figure is the two groups' figures, weighted by their share
        assert maps["pointing_game"] == pytest.approx(
            share * supported + (1 - share) * against, abs=1e-3
        )
    assert 0 <= report.sequence["null_share"]["predicted"] <= 1
    assert report.sequence["ig_relative_delta_median"] < 0.05
    assert [row["randomised_through"] for row in report.sanity][-1] == "mri_encoder.blocks.0"
    assert report.sanity[-1]["gradcam"] < 0.9  # a fully randomised encoder changes the maps
    agreement = report.truth_agreement["baseline=reference"]
    assert -1 <= agreement["spearman_median"] <= 1
    assert report.passed == all(report.targets.values())
    assert report.to_dict()["targets"] == report.targets


def _region(shape: tuple[int, int], rows: slice, cols: slice) -> np.ndarray:
    region = np.zeros(shape, dtype=bool)
    region[rows, cols] = True
    return region


def test_axis_map_score_knows_where_and_which_way() -> None:
    from mmcrnet.explain.evaluate import axis_map_score

    region = _region((20, 20), slice(5, 10), slice(5, 10))
    towards = np.zeros((20, 20))
    towards[7, 7], towards[15, 15] = 3.0, -1.0  # strongest inside, pushing towards pCR
    score = axis_map_score(towards, region)
    assert score.located and score.share == pytest.approx(0.75) and score.mass == 3.0
    away = -towards  # the same evidence pushing towards no response: same place, other sign
    assert axis_map_score(away, region).located and axis_map_score(away, region).mass == -3.0
    elsewhere = np.zeros((20, 20))
    elsewhere[15, 15] = 2.0
    assert not axis_map_score(elsewhere, region).located
    assert axis_map_score(np.zeros((20, 20)), region) == (
        axis_map_score(np.zeros((20, 20)), region)
    )
    assert axis_map_score(np.zeros((20, 20)), region).share == 0.0


def test_direction_figures_with_known_answers() -> None:
    from mmcrnet.explain.evaluate import direction_figures

    terms = np.array([-1.0, -0.5, -0.1, 0.1, 0.5, 1.0])
    follows = direction_figures(2 * terms + 5, terms)  # any monotone map of the truth
    assert follows["spearman_mass_vs_image_term"] == pytest.approx(1.0)
    assert follows["same_side_where_clear"] == 1.0 and follows["clear_cases"] == 4
    opposes = direction_figures(-terms, terms)
    assert opposes["spearman_mass_vs_image_term"] == pytest.approx(-1.0)
    assert opposes["same_side_where_clear"] == 0.0
    assert direction_figures(np.zeros(6), terms)["spearman_mass_vs_image_term"] == 0.0
