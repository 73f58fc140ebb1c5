"""The Quiz page (AppTest): a round played from the keyboard (the sliders), revealed and scored,
and the next case."""

from __future__ import annotations

from pathlib import Path

from streamlit.testing.v1 import AppTest

APP = str(Path(__file__).resolve().parent.parent.parent / "app.py")


def test_a_round_is_answered_pointed_revealed_and_scored() -> None:
    at = AppTest.from_file(APP, default_timeout=240).run()
    at.switch_page("pages/quiz.py").run()
    assert not at.exception
    assert any(s.value == "Case 1 of 10" for s in at.subheader)
    assert at.button(key="quiz.reveal").disabled  # no answer yet
    quiz = at.session_state["quiz.state"]
    case_id = quiz.items[0].case_id
    answer = next(r for r in at.radio if r.label.startswith("Your answer"))
    answer.set_value("partial").run()
    at.checkbox(key="quiz.pointing").check().run()
    at.slider(key="quiz.row").set_value(112).run()
    at.slider(key="quiz.column").set_value(112).run()
    assert "row 112, column 112" in " ".join(c.value for c in at.caption)
    at.button(key="quiz.reveal").click().run()
    assert not at.exception
    text = " ".join(m.value for m in at.markdown)
    assert "You answered **partial**" in text and "The model answered" in text
    assert any(case_id in s.value for s in at.subheader)
    tally = at.session_state["quiz.tally"]
    assert tally.rounds == 1 and tally.learner_pointed == 1
    assert at.metric[0].value.endswith("/ 1")
    at.button(key="quiz.next").click().run()
    assert any(s.value == "Case 2 of 10" for s in at.subheader)
    assert at.session_state["quiz.tally"].rounds == 1  # the score runs on
