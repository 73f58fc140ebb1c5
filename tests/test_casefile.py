"""Loading a case's clinical and genomic values from a JSON or CSV file."""

from __future__ import annotations

import json

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
