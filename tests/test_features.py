from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from mmcrnet.errors import InvalidCase
from mmcrnet.features import (
    DYNAMIC_FEATURES,
    FEATURES,
    STATIC_FEATURES,
    column_codes,
    design_matrix,
    echo_value,
    encode_column,
    feature,
    subtype_of,
)


def test_names_are_unique_and_complete() -> None:
    names = [f.name for f in FEATURES]
    assert len(names) == len(set(names))
    assert {f.name for f in DYNAMIC_FEATURES} == {
        "tumor_diameter_cm",
        "ctdna_percent",
        "relative_dose_intensity",
    }
    for f in FEATURES:
        assert f.help and f.label
        if f.kind == "numeric":
            assert f.bounds is not None and f.bounds[0] < f.bounds[1]
        if f.kind == "categorical":
            assert len(f.categories) >= 2


@pytest.mark.parametrize(
    "name, raw, code",
    [
        ("age", "51.5", 51.5),
        ("age", 40, 40.0),
        ("her2_status", "Positive", 1.0),
        ("regimen", "tchp", 1.0),
        ("tp53_mutation", "yes", 1.0),
        ("tp53_mutation", 0, 0.0),
        ("grade", "3", 3.0),
        ("ctdna_percent", "0", 0.0),
    ],
)
def test_parse_accepts(name: str, raw: object, code: float) -> None:
    assert feature(name).parse(raw) == code


@pytest.mark.parametrize("raw", ["", None, float("nan"), "NA"])
def test_parse_missing_is_nan(raw: object) -> None:
    assert math.isnan(feature("age").parse(raw))


@pytest.mark.parametrize(
    "name, raw, words",
    [
        ("age", "abc", ["age", "'abc'", "not a number"]),
        ("er_percent", "150", ["er_percent", "150", "0 to 100"]),
        ("her2_status", "equivocal", ["her2_status", "equivocal", "negative, positive"]),
        ("grade", "2.5", ["grade", "2.5", "whole number"]),
        ("brca_germline", "maybe", ["brca_germline", "maybe"]),
        ("bmi", "inf", ["bmi", "finite"]),
    ],
)
def test_parse_rejects_with_named_value(name: str, raw: str, words: list[str]) -> None:
    with pytest.raises(InvalidCase) as info:
        feature(name).parse(raw)
    message = str(info.value)
    assert "\n" not in message
    for word in words:
        assert word in message


@pytest.mark.parametrize(
    "name, raw, message",
    [
        ("age", 10**5000, "age: '10000000000000000000…' is not a number in range"),
        ("age", "9" * 5000, "age: '99999999999999999999…' is not a finite number"),
        ("bmi", [10**5000], "bmi: expected one value, not a list"),
        ("regimen", "TCHP\ud800", "regimen: contains a character that is not valid text"),
        ("grade", "2\x00", "grade: contains a character that is not valid text"),
        ("histology", "ductal\r\nx", "histology: contains a character that is not valid text"),
    ],
    ids=["huge-int", "huge-text", "list", "surrogate", "nul", "newline"],
)
def test_parse_rejects_huge_and_invalid_text_in_one_short_line(
    name: str, raw: object, message: str
) -> None:
    with pytest.raises(InvalidCase) as info:
        feature(name).parse(raw)
    assert str(info.value) == message


def test_parse_accepts_a_tab() -> None:
    assert feature("regimen").parse("\tTCHP\t") == 1.0


@pytest.mark.parametrize(
    "value, shown",
    [
        ("T0", "T0"),
        ("x" * 30, "x" * 20 + "…"),
        ("a\ud800\nb", "a\\ud800\\nb"),
        (10**5000, "1" + "0" * 19 + "…"),
        (-(10**5000), "-1" + "0" * 18 + "…"),
        (2.5, "2.5"),
    ],
    ids=["short", "long", "unprintable", "huge-int", "huge-negative-int", "float"],
)
def test_echo_value_is_short_printable_text(value: object, shown: str) -> None:
    assert echo_value(value) == shown
    assert echo_value(value).encode("utf-8")


def test_unknown_feature_lists_known_names() -> None:
    with pytest.raises(KeyError, match="known: age"):
        feature("agee")


def test_encode_numeric_categorical_and_missing() -> None:
    values, present = encode_column(feature("age"), np.array([50.0, 61.0, np.nan]))
    assert values.shape == (3, 1)
    np.testing.assert_allclose(values[:, 0], [0.0, 1.0, 0.0])
    assert present.tolist() == [True, True, False]
    values, present = encode_column(feature("regimen"), np.array([2.0, np.nan]))
    assert values.tolist() == [[0, 0, 1], [0, 0, 0]]
    assert present.tolist() == [True, False]
    values, _ = encode_column(feature("ctdna_percent"), np.array([0.0, 0.09]))
    np.testing.assert_allclose(values[:, 0], [-1.0, 0.0], atol=1e-6)  # log10(x + 0.01) + 1


def test_column_codes_vectorised_matches_parse() -> None:
    raw = pd.Series(["positive", "negative", ""])
    np.testing.assert_array_equal(column_codes(feature("her2_status"), raw), [1.0, 0.0, np.nan])
    with pytest.raises(InvalidCase, match="age: 150"):
        column_codes(feature("age"), pd.Series([50.0, 150.0]))


def test_subtype_from_receptors() -> None:
    er = np.array([80.0, 0.0, 0.0, 0.0, np.nan])
    pr = np.array([10.0, 0.0, 0.0, 5.0, np.nan])
    her2 = np.array([0.0, 1.0, 0.0, 0.0, 0.0])
    assert subtype_of(er, pr, her2).tolist() == [0, 1, 2, 0, -1]


def test_design_matrix_layout() -> None:
    cases = pd.DataFrame({"case_id": ["a", "b"], **{f.name: [None, None] for f in STATIC_FEATURES}})
    cases["age"] = [40, 60]
    timepoints = pd.DataFrame(
        {
            "case_id": ["a", "a", "b"],
            "time_point": ["T0", "T1", "T0"],
            "tumor_diameter_cm": [3.0, 2.0, 4.0],
            "ctdna_percent": [1, 0, 2],
            "relative_dose_intensity": [100, 90, 100],
        }
    )
    x, names = design_matrix(cases, timepoints)
    assert x.shape == (2, len(names))
    assert "tumor_diameter_cm@T1:missing" in names  # b has no T1
    assert x[1, names.index("tumor_diameter_cm@T1:missing")] == 1.0
    assert x[0, names.index("tumor_diameter_cm@T1:missing")] == 0.0
    genomic, genomic_names = design_matrix(cases, timepoints, ("genomic",))
    assert all(not n.startswith("age") for n in genomic_names)
    assert any(n.startswith("ctdna_percent@T3") for n in genomic_names)
