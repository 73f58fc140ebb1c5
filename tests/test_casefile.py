"""Loading a case's clinical and genomic values from a JSON or CSV file."""

from __future__ import annotations

import json
import re

import pytest

from mmcrnet.casefile import read_case_file
from mmcrnet.errors import InvalidCase

CASE = {
    "static": {"age": 52, "her2_status": "positive", "regimen": "TCHP"},
    "timepoints": [
        {"time_point": "T0", "week": 0, "tumor_diameter_cm": 3.2},
        {"time_point": "T1", "week": 3, "tumor_diameter_cm": 2.5},
    ],
}


def test_json_and_downloaded_result_round_trip() -> None:
    case = read_case_file("case.json", json.dumps(CASE).encode())
    assert dict(case.static) == CASE["static"] and list(case.timepoints) == CASE["timepoints"]
    result = {"disclaimer": "...", "inputs": {**CASE, "image": None}, "explanation": {}}
    assert read_case_file("result.json", json.dumps(result).encode()) == case


def test_csv_with_per_time_point_columns() -> None:
    text = (
        "case_id,age,her2_status,regimen,tumor_diameter_cm_T0,tumor_diameter_cm_T2,"
        "week_T2,ctdna_percent_T2\nX1,52,positive,TCHP,3.2,1.9,7,\n"
    )
    case = read_case_file("case.csv", text.encode())
    assert case.static == {"age": "52", "her2_status": "positive", "regimen": "TCHP"}
    assert [row["time_point"] for row in case.timepoints] == ["T0", "T2"]
    assert case.timepoints[1] == {"time_point": "T2", "tumor_diameter_cm": "1.9", "week": "7"}


@pytest.mark.parametrize(
    "name, data, words",
    [
        (
            "case.json",
            b'{"static": {"age": 300}, "timepoints": [{"time_point": "T0"}]}',
            "case.json: Age: 300 years is outside the accepted range 18 to 100 years",
        ),
        ("case.json", b'{"static": {}}', 'case.json: expected {"static"'),
        ("case.json", b"{nope", "case.json: not valid JSON"),
        ("case.csv", b"age,height\n50,170\n", "case.csv: unknown column 'height'"),
        ("case.csv", b"age\n50\n60\n", "exactly one case row, found 2 rows"),
        ("case.csv", b"age,grade\n50,7\n", "Histological grade: 7 is outside the accepted range"),
        ("scan.png", b"\x89PNG\r\n\x1a\n\xff\xfe", "scan.png: not a text file"),
    ],
)
def test_bad_files_name_the_problem(name: str, data: bytes, words: str) -> None:
    with pytest.raises(InvalidCase, match=words.replace("{", r"\{").replace("(", r"\(")) as info:
        read_case_file(name, data)
    assert "\n" not in str(info.value)


def _json_case(static: str = "{}", t0: str = '{"time_point": "T0"}') -> bytes:
    return f'{{"static": {static}, "timepoints": [{t0}]}}'.encode()


@pytest.mark.parametrize(
    "name, data, words",
    [
        ("case.json", _json_case('{"age": ' + "9" * 5000 + "}"), "case.json: Age: '99999"),
        ("case.csv", b"age\n" + b"9" * 5000 + b"\n", "case.csv: Age: '99999"),
        (
            "case.json",
            _json_case(t0='{"time_point": "T0", "week": ' + "9" * 401 + "}"),
            "case.json: week '999",
        ),
        (
            "case.json",
            _json_case(t0='{"time_point": "T0", "week": ' + "9" * 5000 + "}"),
            "case.json: Week inf",
        ),
        ("case.csv", b"week_T0\n" + b"9" * 5000 + b"\n", "case.csv: Week inf at T0"),
    ],
)
def test_huge_numbers_are_named_in_a_short_line(name: str, data: bytes, words: str) -> None:
    with pytest.raises(InvalidCase) as info:
        read_case_file(name, data)
    message = str(info.value)
    assert message.startswith(words) and len(message) < 120 and "\n" not in message


def test_deeply_nested_json_is_refused() -> None:
    with pytest.raises(InvalidCase, match="case.json: case file is nested too deeply"):
        read_case_file("case.json", b"[" * 100_000 + b"]" * 100_000)


@pytest.mark.parametrize(
    "data, words",
    [
        (b"age,regimen\n50,AC\rT\n", "new-line character seen in unquoted field"),
        (b'age,regimen\n50,"' + b"x" * 140_000 + b'"\n', "field larger than field limit (131072)"),
    ],
)
def test_csv_the_csv_module_refuses(data: bytes, words: str) -> None:
    with pytest.raises(
        InvalidCase, match=re.escape(f"case.csv: not valid CSV at line 2 ({words})")
    ):
        read_case_file("case.csv", data)


@pytest.mark.parametrize(
    "data, words",
    [
        (_json_case('{"regimen": "\\ud800"}'), "Neoadjuvant regimen: contains a character"),
        (_json_case('{"age": "5\\u0000"}'), "Age: contains a character"),
        (_json_case(t0='{"time_point": "T0", "week": "\\udfff"}'), "week at T0 contains a"),
        (_json_case('{"\\ud800": 1}'), "'\\ud800' is not a static feature"),
        (_json_case(t0='{"time_point": "T\\ud800"}'), "time_point 'T\\ud800' is not one"),
    ],
)
def test_text_that_is_not_valid_text_is_refused(data: bytes, words: str) -> None:
    with pytest.raises(InvalidCase) as info:
        read_case_file("case.json", data)
    message = str(info.value)
    assert message.startswith(f"case.json: {words}"), message
    message.encode("utf-8")  # a lone surrogate would make this (and st.error) fail
