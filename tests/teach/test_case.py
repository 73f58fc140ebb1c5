"""A teaching case is read, predicted and explained as the Predict page would, with its truth."""

from __future__ import annotations

import pytest

from mmcrnet.errors import InvalidArgument
from mmcrnet.features import OUTCOMES
from mmcrnet.teach.case import open_case, read_case


def test_a_case_opens_with_its_answer_and_truth(her2_case) -> None:
    case = her2_case
    assert case.predicted in OUTCOMES and case.truth.outcome == "partial"
    assert case.right == (case.predicted == "partial")
    assert case.mask is not None and case.mask.shape == case.explanation.image.maps["gradcam"].shape
    assert case.ideal is not None and sum(case.ideal.values()) == pytest.approx(1.0)
    assert case.table.shape == (4, len(case.explanation.sequence.features))
    # the response-axis attributions sum to the score's change from the reference patient
    assert case.guard.ok


def test_the_mammogram_is_read_with_its_own_mask(examples, engine) -> None:
    case = open_case(*engine, examples, "PH00004", "mammogram")
    assert case.explanation.image.kind == "mammogram"
    assert case.mask is case.truth.masks["mammogram"]


def test_what_cannot_be_opened_is_named(examples) -> None:
    with pytest.raises(InvalidArgument, match="'PH99999' is not in examples/"):
        read_case(examples, "PH99999", "mri")
    with pytest.raises(InvalidArgument, match="image 'ct' is not one of mri, mammogram"):
        read_case(examples, "PH00001", "ct")
