"""How the result reads: probabilities, near-ties."""

from __future__ import annotations

import pytest

from ui.result import headline, percent


@pytest.mark.parametrize(
    "p, text",
    [
        (0.0004, "< 1 %"),
        (0.0099, "< 1 %"),
        (0.01, "1 %"),
        (0.456, "46 %"),
        (0.995, "> 99 %"),
        (0.99, "99 %"),
    ],
)
def test_percent(p: float, text: str) -> None:
    assert percent(p) == text


def test_a_clear_prediction_is_named() -> None:
    assert headline({"pCR": 0.7, "partial": 0.2, "none": 0.1}) == "Predicted response: **pCR**"


def test_a_near_tie_names_both_outcomes() -> None:
    text = headline({"pCR": 0.45, "partial": 0.41, "none": 0.14})
    assert text.startswith("Uncertain: **pCR** (45 %) or **partial** (41 %)")
    assert "Predicted response" not in text
