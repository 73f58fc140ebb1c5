"""The What if page (AppTest) and the teaching choice carried between pages."""

from __future__ import annotations

from pathlib import Path

from streamlit.testing.v1 import AppTest

from mmcrnet import DISCLAIMER

APP = str(Path(__file__).resolve().parent.parent.parent / "app.py")


def test_a_what_if_curve_is_drawn_with_its_words_and_table() -> None:
    at = AppTest.from_file(APP, default_timeout=240).run()
    at.switch_page("pages/what_if.py").run()
    assert not at.exception
    assert any(DISCLAIMER in e.value for e in at.error)
    at.selectbox(key="whatif.case").set_value("PH00001").run()
    at.selectbox(key="whatif.input").set_value("washout").run()
    assert not at.exception
    text = " ".join(m.value for m in at.markdown)
    assert "its own Washout of the tumour" in text and "What the curves say" in text
    table = at.dataframe[0].value
    assert len(table) == 12 and "ideal P(pCR)" in table.columns  # 0, 0.1, ..., 1 and its own
    # the choice follows the learner to the Case and truth page
    at.switch_page("pages/case_truth.py").run()
    assert at.selectbox(key="truth.case").value == "PH00001"
