"""The model's reasons beside the truth's: shares on one axis, the per-patient agreement of
evaluate-explanations, and sentences that say why they disagree."""

from __future__ import annotations

import numpy as np
import pytest

from mmcrnet.explain.evaluate import BASELINE_FEATURES
from mmcrnet.teach.agreement import correlations, disagreement_sentences, true_baseline


def _shares(**values: float) -> np.ndarray:
    out = np.zeros(len(BASELINE_FEATURES))
    for name, value in values.items():
        out[BASELINE_FEATURES.index(name)] = value
    return out


def test_the_phantom_correlations_are_the_spec_s() -> None:
    strength, signed = correlations()
    index = BASELINE_FEATURES.index
    assert signed[index("er_percent"), index("esr1_expr")] > 0.8
    assert strength[index("ki67_percent"), index("mki67_expr")] > 0.6
    assert strength[index("bmi"), index("esr1_expr")] < 0.1
    assert np.allclose(strength, strength.T)


def test_credit_moved_to_a_correlated_input_is_named() -> None:
    model = _shares(er_percent=-0.30, ki67_percent=0.2, age=-0.1)
    truth = _shares(esr1_expr=-0.30, ki67_percent=0.2, age=-0.1)
    said = disagreement_sentences(model, truth)
    assert said[0].startswith("The model gives ER-positive cells the credit the truth gives ESR1")
    assert "correlated (r = +0.8" in said[0] or "correlated (r = +0.9" in said[0]
    assert len(said) == 1  # the other side of the same move is not said twice


def test_a_null_feature_and_a_reversed_direction_are_named() -> None:
    said = disagreement_sentences(
        _shares(bmi=0.25, age=0.2, brca_germline=0.3), _shares(age=-0.25, brca_germline=0.3)
    )
    assert any("Body-mass index" in s and "null feature" in s for s in said)
    assert any(s.startswith("The model reads Age as pushing towards pCR") for s in said)
    assert disagreement_sentences(_shares(age=0.2), _shares(age=0.21)) == []


def test_the_case_s_agreement_uses_the_truth_s_terms(her2_case) -> None:
    agreement = her2_case.agreement
    truth = true_baseline(her2_case.truth)
    # her2_status carries her2_positive and subtype tnbc; regimen tchp and pembrolizumab
    contributions = her2_case.truth.contributions
    assert truth[BASELINE_FEATURES.index("her2_status")] == pytest.approx(
        contributions["her2_positive"]
    )
    assert truth[BASELINE_FEATURES.index("regimen")] == pytest.approx(
        contributions["tchp"] + contributions["pembrolizumab"]
    )
    assert len(agreement.rows) == len(BASELINE_FEATURES)
    assert sum(abs(r.truth_share) for r in agreement.rows) == pytest.approx(1.0)
    assert sum(abs(r.model_share) for r in agreement.rows) == pytest.approx(1.0)
    assert -1.0 <= agreement.spearman <= 1.0 and 0 <= agreement.top_overlap <= 5
    assert "u = " in agreement.follow_up and "image" in agreement.image
