from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mmcrnet.data import LAYOUT, encode_sequences, truncate
from mmcrnet.errors import InvalidCase


def small_tables() -> tuple[pd.DataFrame, pd.DataFrame]:
    cases = pd.DataFrame(
        {
            "case_id": ["a", "b"],
            "age": [40, ""],
            "er_percent": [80, 0],
            "pr_percent": [50, 0],
            "her2_status": ["negative", "negative"],
            "esr1_expr": [1.0, -1.0],
        }
    )
    timepoints = pd.DataFrame(
        {
            "case_id": ["b", "a", "a"],
            "time_point": ["T0", "T1", "T0"],
            "week": [0, 3, 0],
            "tumor_diameter_cm": [2.0, 1.5, 3.0],
            "ctdna_percent": [0.5, "", 1.0],
        }
    )
    return cases, timepoints


def column(name: str) -> int:
    return LAYOUT.names.index(name)


def test_sequences_carry_static_features_forward() -> None:
    encoded = encode_sequences(*small_tables())
    assert encoded.values.shape == (2, 4, LAYOUT.width)
    assert encoded.lengths.tolist() == [2, 1]
    a = encoded.values[0]
    np.testing.assert_array_equal(a[0, column("age")], a[1, column("age")])
    assert a[0, column("age:present")] == 1 and encoded.values[1, 0, column("age:present")] == 0
    assert a[1, column("ctdna_percent:present")] == 0  # missing at T1
    assert a[1, column("week")] == pytest.approx(3 / 12)
    assert a[0, column("subtype=HR+/HER2-")] == 1
    assert encoded.values[1, 0, column("subtype=TNBC")] == 1
    assert not encoded.values[0, 2:].any() and not encoded.values[1, 1:].any()  # padding
    assert a[0, column("bmi:present")] == 0  # absent column = missing


def test_dropped_group_is_encoded_as_missing() -> None:
    encoded = encode_sequences(*small_tables(), groups=("clinical",))
    assert not encoded.values[:, :, column("esr1_expr")].any()
    assert not encoded.values[:, :, column("ctdna_percent:present")].any()
    assert encoded.values[0, 0, column("age:present")] == 1


def test_baseline_is_required_and_values_are_checked() -> None:
    cases, timepoints = small_tables()
    with pytest.raises(InvalidCase, match="case 'b' has no T0"):
        encode_sequences(cases, timepoints[timepoints.case_id != "b"].assign())
    cases.loc[0, "age"] = 300
    with pytest.raises(InvalidCase, match="age: 300"):
        encode_sequences(cases, timepoints)


def test_truncate_keeps_the_first_time_points() -> None:
    encoded = encode_sequences(*small_tables())
    values, lengths = truncate(encoded.values, encoded.lengths, np.array([1, 4]))
    assert lengths.tolist() == [1, 1]
    assert not values[0, 1:].any() and values[0, 0].any()
