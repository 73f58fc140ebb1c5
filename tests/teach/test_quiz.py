"""The quiz: a set covering subtypes and hard cases, and the marking of learner and model."""

from __future__ import annotations

import numpy as np
import pytest

from mmcrnet.errors import InvalidArgument
from mmcrnet.teach.quiz import Attempt, Tally, mark, quiz_set
from mmcrnet.teach.truth import truth_table


def test_the_set_covers_every_subtype_and_outcome_then_hard_cases(examples) -> None:
    truth = truth_table(examples)
    items = quiz_set(truth, examples.outcomes, 10, seed=3)
    assert len(items) == 10 and len({i.case_id for i in items}) == 10
    pairs = {i.why for i in items if not i.why.startswith(("hard", "from"))}
    assert len(pairs) == 9  # the examples hold every (subtype, outcome) pair
    assert [i.case_id for i in quiz_set(truth, examples.outcomes, 10, seed=3)] == [
        i.case_id for i in items
    ]
    assert quiz_set(truth, examples.outcomes, 3, seed=1)[0].case_id in examples.case_ids
    with pytest.raises(InvalidArgument, match="at least 1 case"):
        quiz_set(truth, examples.outcomes, 0)


def test_a_point_on_the_tumour_scores_and_one_off_it_says_how_far(her2_case) -> None:
    rows, cols = np.nonzero(her2_case.mask)
    inside = (float(rows.mean()), float(cols.mean()))
    marked = mark(Attempt("partial", inside), her2_case)
    assert marked.learner_right and marked.learner_located and marked.distance_mm == 0.0
    assert marked.model_answer == her2_case.predicted
    assert marked.model_right == (her2_case.predicted == "partial")
    assert marked.model_point is not None and isinstance(marked.model_located, bool)
    far = mark(Attempt("none", (2.0, 2.0)), her2_case)
    assert not far.learner_right and far.learner_located is False and far.distance_mm > 20
    assert mark(Attempt("pCR"), her2_case).learner_located is None


def test_bad_answers_are_named(her2_case) -> None:
    with pytest.raises(InvalidArgument, match="answer 'maybe' is not one of"):
        Attempt("maybe")
    with pytest.raises(InvalidArgument, match="outside the 224 x 224 image"):
        mark(Attempt("pCR", (300.0, 10.0)), her2_case)


def test_the_tally_runs_over_rounds(her2_case) -> None:
    tally = Tally()
    tally.add(mark(Attempt("partial", (2.0, 2.0)), her2_case))
    tally.add(mark(Attempt("none"), her2_case))
    assert tally.rounds == 2 and tally.learner_right == 1 and tally.model_judged == 2
    assert tally.learner_pointed == 1 and tally.learner_located == 0
    assert tally.lines()[0].startswith("You: 1 of 2 responses right")


def test_a_flagged_answer_is_shown_but_not_scored(examples, engine) -> None:
    from mmcrnet.teach.case import open_case

    case = open_case(*engine, examples, "PH00005")  # the guard flags this TNBC case
    assert not case.guard.ok
    marked = mark(Attempt(case.truth.outcome or "pCR"), case)
    assert marked.model_judged is False and marked.model_right is False
    assert marked.model_answer == case.predicted
    tally = Tally()
    tally.add(marked)
    assert tally.model_judged == 0 and "1 flagged" in tally.lines()[0]
