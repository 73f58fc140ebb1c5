"""What if: one input changed over its range, the model and the truth side by side."""

from __future__ import annotations

import numpy as np

from mmcrnet.teach.whatif import INPUTS_BY_NAME, changed_case, render_study, sweep


def test_a_tumour_drawn_again_with_its_own_latents_is_the_same_image(her2_case) -> None:
    again = render_study(her2_case, dict(her2_case.truth.latents))
    assert np.array_equal(again.image, her2_case.study.image)
    changed = render_study(her2_case, {**her2_case.truth.latents, "washout": 1.0})
    early, late = changed.image[1], changed.image[2]
    mask = her2_case.mask
    # the same breast and tumour (the display scaling and the noise level follow the
    # brightest phase); with full washout the late phase falls below the early one
    before = her2_case.study.image[1].ravel()
    assert np.corrcoef(early.ravel(), before)[0, 1] > 0.99
    assert late[mask].mean() < early[mask].mean()


def test_changing_a_value_leaves_the_case_alone(her2_case) -> None:
    item = INPUTS_BY_NAME["ki67_percent"]
    before = dict(her2_case.clinical.static)
    changed = changed_case(her2_case, item, 90.0)
    assert changed.static["ki67_percent"] == 90.0
    assert her2_case.clinical.static == before


def test_ki67_moves_the_truth_towards_pcr_and_the_curve_says_how_the_model_follows(
    her2_case, engine
) -> None:
    result = sweep(*engine, her2_case, INPUTS_BY_NAME["ki67_percent"])
    assert len(result.values) >= 21 and result.values[0] == 1.0 and result.values[-1] == 95.0
    ideal_pcr = result.ideal[:, 0]
    assert np.all(np.diff(ideal_pcr) > 0)  # coefficient +0.02 per percentage point
    assert np.all(np.diff(result.oracle[:, 0]) > 0)
    assert np.allclose(result.model.sum(axis=1), 1.0, atol=1e-5)
    findings = result.findings()
    assert findings and any(
        f.startswith("From 1 % to 95 %, the model's P(pCR) moves") for f in findings
    )
    assert any("points and the ideal observer's" in f for f in findings)
    rows = result.rows()
    assert rows[0]["Ki-67"] == "1 %" and set(rows[0]) >= {"model P(pCR)", "ideal P(pCR)"}


def test_a_measurement_moves_the_ideal_observer_but_not_the_oracle(her2_case, engine) -> None:
    result = sweep(*engine, her2_case, INPUTS_BY_NAME["ctdna_t1"])
    assert np.ptp(result.oracle[:, 0]) == 0.0
    possible = ~np.isnan(result.ideal[:, 0])
    assert np.ptp(result.ideal[possible, 0]) > 0.05
    assert any("The oracle does not move" in f for f in result.findings())


def test_a_categorical_input_takes_each_category(her2_case, engine) -> None:
    result = sweep(*engine, her2_case, INPUTS_BY_NAME["her2_status"])
    assert result.values == ("negative", "positive") and result.current == "positive"
    assert result.oracle.shape == (2, 3) and result.model.shape == (2, 3)
