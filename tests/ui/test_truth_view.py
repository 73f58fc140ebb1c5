"""The Case and truth page (AppTest): the outline and the map, the tumour in words, the three
probabilities and the reasons beside the truth with their text equivalent."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from mmcrnet import DISCLAIMER
from ui.teach_figures import cross, outline

APP = str(Path(__file__).resolve().parent.parent.parent / "app.py")


@pytest.fixture(scope="module")
def page() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=240).run()
    at.switch_page("pages/case_truth.py").run()
    assert not at.exception
    return at


def test_the_case_is_shown_beside_its_truth(page: AppTest) -> None:
    text = " ".join(m.value for m in page.markdown)
    assert any(DISCLAIMER in e.value for e in page.error)
    assert "The map's strongest point" in text
    for words in ("Size:", "Washout:", "Heterogeneity:", "Rim enhancement:", "Unexplained"):
        assert words in text
    assert "True outcome: **pCR**" in text  # PH00019, the first example
    assert "Agreement with the truth: Spearman rho" in text
    frames = [d.value for d in page.dataframe]
    probabilities = next(f for f in frames if "oracle" in f.columns)
    assert list(probabilities["outcome"]) == ["pCR", "partial", "none"]
    numbers = next(f for f in frames if "truth share" in f.columns)
    assert len(numbers) == 24 and np.isclose(numbers["truth share"].abs().sum(), 1.0, atol=0.01)
    follow_up = next(f for f in frames if "model (log-odds)" in f.columns and "truth" in f.columns)
    assert len(follow_up) == 9 and set(follow_up["truth"]) == {"no term"}  # 3 values x T1-T3


def test_another_case_and_the_mammogram(page: AppTest) -> None:
    page.selectbox(key="truth.case").set_value("PH00008").run()
    assert "True outcome: **none**" in " ".join(m.value for m in page.markdown)
    page.radio(key="truth.image").set_value("mammogram").run()
    assert not page.exception
    assert any("Mammogram maps are not reliable" in w.value for w in page.warning)


def test_outline_and_cross_draw_where_they_should() -> None:
    picture = np.zeros((20, 20, 3), dtype=np.uint8)
    mask = np.zeros((20, 20), dtype=bool)
    mask[5:15, 5:15] = True
    drawn = outline(picture, mask)
    assert (drawn[5, 5] == (255, 221, 0)).all() and (drawn[10, 10] == 0).all()
    marked = cross(picture, (10, 10), (0, 230, 118), size=3)
    assert (marked[10, 13] == (0, 230, 118)).all() and (marked[0, 0] == 0).all()
    with pytest.raises(ValueError, match="does not match"):
        outline(picture, mask[:10])
