"""A case's fields checked by the schema: every bad field named in one short line of text."""

from __future__ import annotations

import pytest

from mmcrnet.case import ClinicalCase
from mmcrnet.errors import InvalidCase


def test_huge_integers_are_field_problems() -> None:
    case = ClinicalCase(
        {"age": 10**5000},
        [{"time_point": "T0", "week": 10**5000}, {"time_point": 10**5000}],
    )
    problems = case.problems()
    assert [(p.field, p.time_point) for p in problems] == [
        ("age", None),
        ("time_point", None),
        ("week", "T0"),
    ]
    assert problems[0].message == "Age: '10000000000000000000…' is not a number in range"
    assert problems[1].message == "time_point '10000000000000000000…' is not one of T0, T1, T2, T3"
    assert problems[2].message == "week '10000000000000000000…' at T0 is not a number"


def test_a_401_digit_week_is_named_briefly() -> None:
    with pytest.raises(InvalidCase, match=r"^week '9{20}…' at T0 is not a number$"):
        ClinicalCase({}, [{"time_point": "T0", "week": int("9" * 401)}]).validate()


@pytest.mark.parametrize(
    "static, row, field",
    [
        ({"regimen": "TCHP\ud800"}, {}, "regimen"),
        ({"histology": "ductal\x1b"}, {}, "histology"),
        ({}, {"tumor_diameter_cm": "2\x7f"}, "tumor_diameter_cm"),
        ({}, {"week": "\ud800"}, "week"),
    ],
)
def test_text_with_surrogates_or_control_characters_is_a_field_problem(
    static: dict[str, object], row: dict[str, object], field: str
) -> None:
    problems = ClinicalCase(static, [{"time_point": "T0", **row}]).problems()
    assert [p.field for p in problems] == [field]
    assert "contains a character that is not valid text" in problems[0].message
    problems[0].message.encode("utf-8")


def test_echoed_names_are_valid_text() -> None:
    problems = ClinicalCase({"\ud800" * 50: 1}, [{"time_point": "T0", "x\udfff": 1}]).problems()
    for problem in problems:
        problem.message.encode("utf-8")
        assert len(problem.message) < 80
