"""AppTest smoke test of the router and the About page."""

from __future__ import annotations

from pathlib import Path

from streamlit.testing.v1 import AppTest

from mmcrnet import DISCLAIMER

APP = str(Path(__file__).resolve().parent.parent / "app.py")


def test_app_starts_with_disclaimer_and_examples() -> None:
    at = AppTest.from_file(APP).run(timeout=60)
    assert not at.exception
    assert DISCLAIMER in [w.value for w in at.sidebar.warning]
    assert DISCLAIMER in [e.value for e in at.error]
    table = at.dataframe[0].value
    assert len(table) == 12
    assert set(table["outcome (truth)"]) == {"pCR", "partial", "none"}
