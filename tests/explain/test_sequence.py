"""Sequence attribution: a model that reads one feature gets all the credit, IG completeness,
occlusion agrees, baselines, the reference patient."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from mmcrnet.data import LAYOUT, encode_sequences, model_config
from mmcrnet.explain.sequence import (
    ATTRIBUTED,
    baseline_for,
    class_score,
    encode_reference,
    integrated_gradients,
    occlusion,
    per_feature,
    response_score,
    sequence_function,
)
from mmcrnet.model import MMCRNet
from mmcrnet.predict import ClinicalCase
from mmcrnet.reference import mean_encoding, reference_patient

STATIC = {
    "age": 61,
    "menopausal_status": "post",
    "bmi": 31,
    "er_percent": 5,
    "pr_percent": 0,
    "her2_status": "positive",
    "grade": 3,
    "ki67_percent": 70,
    "histology": "ductal",
    "t_stage": 2,
    "n_stage": 1,
    "regimen": "TCHP",
    "esr1_expr": -1.0,
    "top2a_expr": 1.5,
    "tp53_mutation": 1,
    "pik3ca_mutation": 0,
    "brca_germline": 0,
}  # some genes missing
TIMEPOINTS = [
    {
        "time_point": "T0",
        "tumor_diameter_cm": 3.0,
        "ctdna_percent": 2.0,
        "relative_dose_intensity": 100,
    },
    {
        "time_point": "T1",
        "tumor_diameter_cm": 2.1,
        "ctdna_percent": 0.3,
        "relative_dose_intensity": 90,
    },
    {
        "time_point": "T2",
        "tumor_diameter_cm": 1.2,
        "ctdna_percent": None,
        "relative_dose_intensity": 95,
    },
]


def _encoded(static: dict = STATIC, timepoints: list = TIMEPOINTS) -> tuple[np.ndarray, int]:
    cases, tps = ClinicalCase(static, timepoints).tables()
    encoded = encode_sequences(cases, tps)
    return encoded.values[0], int(encoded.lengths[0])


def one_feature_model(feature: str) -> MMCRNet:
    """An LSTM-only model whose output depends on ``feature``'s value column alone: input
    weights zero except that column, no recurrence, a fixed linear head."""
    torch.manual_seed(0)
    model = MMCRNet(model_config("lstm-only", lstm_hidden=4, dropout=0.0)).eval()
    column = LAYOUT.names.index(feature)
    with torch.no_grad():
        for name, parameter in model.lstm.named_parameters():
            parameter.zero_()
            if name == "weight_ih_l0":
                parameter[:, column] = torch.linspace(0.5, 1.5, parameter.shape[0])
        model.fusion[1].weight.copy_(torch.tensor([[1.0, 1, 1, 1], [0, 0, 0, 0], [-1, -1, -1, -1]]))
        model.fusion[1].bias.zero_()
    return model


def _explain(model: MMCRNet, sequence: np.ndarray, length: int, base: np.ndarray):
    x = torch.from_numpy(sequence)[None]
    forward = sequence_function(
        model,
        torch.zeros(1, 0),
        torch.zeros(1, dtype=torch.long),
        torch.tensor([length]),
        class_score(0),
    )
    ig = integrated_gradients(forward, x, torch.from_numpy(base)[None], length)
    return ig, occlusion(forward, x, torch.from_numpy(base)[None], length)


@pytest.mark.parametrize("feature", ["ki67_percent", "tumor_diameter_cm", "top2a_expr"])
def test_a_model_reading_one_feature_credits_only_it(feature: str) -> None:
    sequence, length = _encoded()
    base = baseline_for(sequence, length, None)  # zeros: every present feature differs
    ig, occluded = _explain(one_feature_model(feature), sequence, length, base)
    column = ATTRIBUTED.index(feature)
    assert np.abs(ig.attributions[:, column]).sum() > 1e-3
    others = np.delete(ig.attributions, column, axis=1)
    assert np.abs(others).max() < 1e-6  # everything goes to the one feature (at any time point)
    assert ig.relative_delta < 1e-3  # completeness
    assert ig.attributions.sum() == pytest.approx(ig.score - ig.baseline_score, abs=1e-4)
    last = length - 1
    assert np.sign(occluded[last, column]) == np.sign(ig.attributions[last, column])
    assert np.abs(np.delete(occluded, column, axis=1)).max() < 1e-6


def test_missing_features_and_the_week_get_no_attribution() -> None:
    sequence, length = _encoded()
    reference = np.ones_like(sequence)
    base = baseline_for(sequence, length, reference)
    assert np.all(base[length:] == 0)
    np.testing.assert_array_equal(base[:length, -1], sequence[:length, -1])  # week kept
    for missing in ("pgr_expr", "actb_expr"):  # not given: baseline = the case's own encoding
        columns = LAYOUT.columns_of(missing)
        np.testing.assert_array_equal(base[:length, columns], sequence[:length, columns])
    ctdna = LAYOUT.columns_of("ctdna_percent")
    np.testing.assert_array_equal(base[2, ctdna], sequence[2, ctdna])  # missing at T2 only
    assert np.all(base[0, ctdna] == 1.0)
    age = LAYOUT.columns_of("age")
    assert np.all(base[:length, age] == 1.0)
    model = MMCRNet(model_config("lstm-only", lstm_hidden=8)).eval()
    ig, _ = _explain(model, sequence, length, base)
    for missing in ("pgr_expr", "actb_expr"):
        assert np.all(ig.attributions[:, ATTRIBUTED.index(missing)] == 0)


def test_per_feature_sums_each_features_columns() -> None:
    columns = np.zeros((4, LAYOUT.width))
    columns[1, LAYOUT.columns_of("regimen")] = [0.1, 0.2, 0.3, 0.4]  # 3 one-hot + present flag
    columns[1, -1] = 5.0  # the week column is never attributed
    out = per_feature(columns, 2)
    assert out.shape == (2, len(ATTRIBUTED))
    assert out[1, ATTRIBUTED.index("regimen")] == pytest.approx(1.0)
    assert out.sum() == pytest.approx(1.0)


def test_reference_patient_is_the_mean_input() -> None:
    from mmcrnet.phantom.cohort import generate_cohort

    cohort = generate_cohort(200, 3)
    reference = reference_patient(cohort.cases, cohort.timepoints)
    mean = encode_reference(reference)
    encoded = encode_sequences(cohort.cases, cohort.timepoints).values
    # Every input column is the cohort's mean; the week stays 0 (baselines keep the case's own).
    np.testing.assert_allclose(mean[:, :-1], encoded.mean(axis=0)[:, :-1], atol=1e-5)
    assert not mean[:, -1].any()
    typical = reference["typical"]
    assert typical["static"]["age"] == pytest.approx(
        float(np.median(cohort.cases["age"])), abs=1e-3
    )
    assert typical["static"]["her2_status"] == cohort.cases["her2_status"].mode()[0]
    assert [row["time_point"] for row in typical["timepoints"]] == ["T0", "T1", "T2", "T3"]
    no_genomic = encode_reference(reference_patient(cohort.cases, cohort.timepoints, ("clinical",)))
    assert not no_genomic[:, LAYOUT.columns_of("esr1_expr")].any()
    with pytest.raises(ValueError, match="another feature layout"):
        encode_reference({**reference, "columns": reference["columns"][:-1]})
    with pytest.raises(ValueError, match="no mean_encoding"):
        encode_reference({"columns": reference["columns"]})


def test_scores_are_log_odds_and_the_response_axis() -> None:
    logits = torch.tensor([[2.0, 0.5, -1.0], [0.0, 0.0, 0.0]])
    p = torch.softmax(logits, dim=1)
    np.testing.assert_allclose(
        class_score(1)(logits), torch.log(p[:, 1] / (1 - p[:, 1])), rtol=1e-5
    )
    np.testing.assert_allclose(
        response_score(2.0)(logits), (logits[:, 0] - logits[:, 2]) / 2.0, rtol=1e-5
    )


def test_reference_patient_tolerates_missing_columns() -> None:
    cases = pd.DataFrame([{"case_id": "a", "age": 50}, {"case_id": "b", "age": 60}])
    timepoints = pd.DataFrame([{"case_id": c, "time_point": "T0", "week": 0} for c in "ab"])
    reference = reference_patient(cases, timepoints)
    assert (
        reference["typical"]["static"]["age"] == 55
        and reference["typical"]["static"]["bmi"] is None
    )


def test_mean_encoding_averages_over_cases_that_have_the_value() -> None:
    full, _ = _encoded()
    without = dict(STATIC)
    del without["ki67_percent"]
    partial, _ = _encoded(without)
    mean = mean_encoding(np.stack([full[0], partial[0]]))  # the T0 rows of both cases
    ki67 = LAYOUT.columns_of("ki67_percent")  # [value, present]
    assert mean[ki67[0]] == pytest.approx(full[0, ki67[0]])  # the one case that has it
    assert mean[ki67[1]] == 1.0  # present-flag of the mean patient
    pgr = LAYOUT.columns_of("pgr_expr")  # missing in both
    assert not mean[pgr].any()
    assert not mean_encoding(np.zeros((0, LAYOUT.width))).any()


def test_reference_is_kept_per_time_point_when_one_is_skipped() -> None:
    cases = pd.DataFrame([{"case_id": c, "age": age} for c, age in (("a", 40), ("b", 60))])
    timepoints = pd.DataFrame(
        [
            {"case_id": "a", "time_point": "T0", "week": 0, "tumor_diameter_cm": 4.0},
            {"case_id": "a", "time_point": "T1", "week": 3, "tumor_diameter_cm": 3.0},
            {"case_id": "b", "time_point": "T0", "week": 0, "tumor_diameter_cm": 2.0},
            {"case_id": "b", "time_point": "T2", "week": 6, "tumor_diameter_cm": 1.0},
        ]
    )
    reference = encode_reference(reference_patient(cases, timepoints))
    column = LAYOUT.columns_of("tumor_diameter_cm")[0]
    encoded = encode_sequences(cases, timepoints).values
    assert reference[1, column] == pytest.approx(encoded[0, 1, column])  # T1: case a only
    assert reference[2, column] == pytest.approx(encoded[1, 1, column])  # T2: case b only
    assert not reference[3].any()  # T3: nobody
    base = baseline_for(encoded[1], 2, reference, time_points=[0, 2])  # case b: T0, T2
    assert base[1, column] == pytest.approx(reference[2, column])
