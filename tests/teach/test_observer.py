"""The truth's probabilities: the ideal observer infers the hidden chemosensitivity from the
follow-up values as the phantom generates them, and is checked against the phantom itself."""

from __future__ import annotations

import numpy as np
import pytest

from mmcrnet.features import OUTCOMES
from mmcrnet.phantom.cohort import expected_probabilities, generate_cohort
from mmcrnet.teach.observer import (
    FollowUp,
    ImpossibleObservation,
    eta_of,
    follow_ups,
    ideal_observer,
    u_posterior,
)


def test_without_follow_up_it_is_the_expected_probability() -> None:
    for eta in (-3.0, -0.5, 0.4, 2.5):
        assert ideal_observer(eta, 3.0, 1.0, []) == pytest.approx(
            expected_probabilities(np.array([eta]))[0], abs=1e-5
        )


def test_fast_shrinkage_and_clearance_mean_a_more_sensitive_patient() -> None:
    slow = [FollowUp(3.0, 3.2, 0.9), FollowUp(6.0, 3.1, 0.8)]
    fast = [FollowUp(3.0, 2.2, 0.05), FollowUp(6.0, 1.5, 0.0)]
    u, slow_w = u_posterior(0.0, 3.3, 1.0, slow)
    _, fast_w = u_posterior(0.0, 3.3, 1.0, fast)
    assert fast_w @ u > 0.5 > slow_w @ u
    assert ideal_observer(0.0, 3.3, 1.0, fast)[0] > ideal_observer(0.0, 3.3, 1.0, slow)[0]


def test_an_undetectable_ctdna_from_a_high_baseline_is_impossible() -> None:
    with pytest.raises(ImpossibleObservation, match="cannot occur"):
        ideal_observer(0.0, 3.3, 30.0, [FollowUp(3.0, float("nan"), 0.0)])


def test_on_the_phantom_it_beats_the_baseline_reader_and_trails_the_oracle() -> None:
    """Log loss on 1500 fresh phantom cases: oracle < ideal observer < baseline-only truth.
    A wrong likelihood would make the follow-up values mislead, and the middle figure rise."""
    cohort = generate_cohort(1500, 4242)
    truth = cohort.truth
    y = cohort.outcomes["response"].map(OUTCOMES.index).to_numpy()
    rows = cohort.timepoints.groupby("case_id", sort=False)
    ideal = np.array(
        [
            ideal_observer(
                float(t.eta),
                float(t.tumor_diameter_t0_true),
                float(t.ctdna_t0_true),
                follow_ups(rows.get_group(t.case_id).to_dict("records")),
            )
            for t in truth.itertuples()
        ]
    )
    baseline = expected_probabilities(truth["eta"].to_numpy())
    oracle = truth[["p_pcr", "p_partial", "p_none"]].to_numpy()

    def loss(p: np.ndarray) -> float:
        return float(-np.log(np.clip(p[np.arange(len(y)), y], 1e-12, None)).mean())

    assert loss(oracle) < loss(ideal) < loss(baseline) - 0.05


def test_eta_is_rebuilt_from_the_form_and_the_latents(examples) -> None:
    from mmcrnet.case import ClinicalCase
    from mmcrnet.teach.truth import load_truth

    for case_id in examples.case_ids:
        truth = load_truth(examples, case_id)
        clinical = ClinicalCase.from_tables(examples.cases, examples.timepoints, case_id)
        # the form is rounded to 0.1 (age, ER, Ki-67) and 4 decimals (expression)
        assert eta_of(clinical.static, truth.latents, truth.diameter_cm) == pytest.approx(
            truth.eta, abs=0.01
        )
