from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mmcrnet.features import DYNAMIC_FEATURES, OUTCOMES, STATIC_FEATURES, column_codes
from mmcrnet.phantom.cohort import (
    ETA_INTERCEPT,
    ETA_TERMS,
    NULL_FEATURES,
    expected_probabilities,
    generate_cohort,
    oracle_probabilities,
)
from mmcrnet.phantom.validate import validate_cohort


def test_same_seed_same_cohort_and_different_seed_differs() -> None:
    a, b, c = generate_cohort(300, 4), generate_cohort(300, 4), generate_cohort(300, 5)
    for name in ("cases", "timepoints", "outcomes", "truth", "contributions"):
        pd.testing.assert_frame_equal(getattr(a, name), getattr(b, name))
    assert not a.truth["eta_full"].equals(c.truth["eta_full"])


def test_rejects_empty_cohort() -> None:
    with pytest.raises(ValueError, match="at least 1, got 0"):
        generate_cohort(0, 1)


def test_every_value_is_inside_the_schema() -> None:
    cohort = generate_cohort(2000, 9)
    for spec in STATIC_FEATURES:
        codes = column_codes(spec, cohort.cases[spec.name])  # raises on a bad value
        assert not np.isnan(codes).any(), spec.name
    for spec in DYNAMIC_FEATURES:
        assert not np.isnan(column_codes(spec, cohort.timepoints[spec.name])).any()
    assert cohort.timepoints.groupby("case_id").size().eq(4).all()
    assert set(cohort.outcomes["response"]) == set(OUTCOMES)


def test_spec_clips_and_conditional_rules() -> None:
    cohort = generate_cohort(5000, 2)
    cases, truth = cohort.cases, cohort.truth
    assert cases.age.between(24, 85).all() and cases.bmi.between(16, 50).all()
    tnbc = truth.subtype == "TNBC"
    assert (cases.er_percent[tnbc] == 0).all() and (cases.pr_percent[tnbc] == 0).all()
    assert (cases.her2_status[truth.subtype == "HER2+"] == "positive").all()
    assert (cases.regimen[truth.subtype == "HR+/HER2-"] == "AC-T").all()
    assert (cases.histology[truth.subtype != "HR+/HER2-"] == "ductal").all()
    assert truth.tumor_diameter_t0_true.between(1, 10).all()
    t0 = cohort.timepoints[cohort.timepoints.time_point == "T0"]
    assert (t0.relative_dose_intensity == 100).all()
    for latent in ("heterogeneity", "rim", "irregularity", "washout", "bpe"):
        assert truth[latent].between(0, 1).all()
    # The T stage follows the true diameter.
    expected = np.where(
        truth.tumor_diameter_t0_true <= 2, 1, np.where(truth.tumor_diameter_t0_true <= 5, 2, 3)
    )
    np.testing.assert_array_equal(cases.t_stage, expected)


def test_contributions_add_up_to_eta() -> None:
    cohort = generate_cohort(1000, 3)
    terms = cohort.contributions[[t for t, _, _ in ETA_TERMS]].to_numpy()
    eta = cohort.truth.eta.to_numpy()
    np.testing.assert_allclose(terms.sum(axis=1), eta - eta.mean(), atol=1e-9)
    np.testing.assert_allclose(terms.mean(axis=0), 0.0, atol=1e-9)
    np.testing.assert_allclose(cohort.truth.eta_full - cohort.truth.eta, cohort.truth.u, atol=1e-12)
    assert ETA_INTERCEPT == -0.35
    features_with_terms = {f for _, _, f in ETA_TERMS}
    assert not features_with_terms & set(NULL_FEATURES)


def test_oracle_probabilities_are_a_distribution() -> None:
    eta = np.linspace(-6, 6, 101)
    p = oracle_probabilities(eta)
    np.testing.assert_allclose(p.sum(axis=1), 1.0)
    assert (p >= 0).all()
    assert p[0].argmax() == 2 and p[-1].argmax() == 0 and p[50].argmax() == 1


def test_responders_shrink_faster() -> None:
    cohort = generate_cohort(4000, 6)
    wide = cohort.timepoints.pivot(
        index="case_id", columns="time_point", values="tumor_diameter_cm"
    ).loc[cohort.case_ids]
    shrink = (wide["T3"] / wide["T0"]).to_numpy()
    response = cohort.outcomes.response.to_numpy()
    assert np.median(shrink[response == "pCR"]) < np.median(shrink[response == "none"]) - 0.2


def test_validation_targets_of_the_spec() -> None:
    """cohort-spec section 6 on n = 20 000, seed 1 (about 4 s)."""
    report = validate_cohort(generate_cohort(20000, 1))
    failed = [c.to_dict() for c in report.checks if not c.passed]
    assert not failed
    assert len(report.checks) == 13


def test_expected_probabilities_integrate_out_the_unexplained_chemosensitivity() -> None:
    cohort = generate_cohort(20000, 2)
    expected = expected_probabilities(cohort.truth["eta"].to_numpy())
    assert np.allclose(expected.sum(axis=1), 1.0) and (expected >= 0).all()
    # Averaging the oracle over u's draws gives the same class rates as integrating u out.
    oracle = cohort.truth[["p_pcr", "p_partial", "p_none"]].to_numpy()
    assert np.abs(expected.mean(axis=0) - oracle.mean(axis=0)).max() < 0.01
    # More eta, more pCR and less "none"; and flatter than the oracle (u is unknown).
    grid = expected_probabilities(np.linspace(-6, 6, 25))
    assert (np.diff(grid[:, 0]) > 0).all() and (np.diff(grid[:, 2]) < 0).all()
    assert grid[-1, 0] < oracle_probabilities(np.array([6.0]))[0, 0]
