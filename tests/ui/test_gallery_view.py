"""The Gallery page (AppTest): every bundled case as a card with the model's answer, filters that
narrow them, and Open carrying the case to the Case and truth page."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from mmcrnet import DISCLAIMER

APP = str(Path(__file__).resolve().parent.parent.parent / "app.py")


@pytest.fixture()
def gallery(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AppTest:
    monkeypatch.setenv("ONCOPREDICT_WORK", str(tmp_path))
    at = AppTest.from_file(APP, default_timeout=240).run()
    at.switch_page("pages/gallery.py").run()
    assert not at.exception
    return at


def test_every_case_is_a_card_with_its_truth_and_the_model_s_answer(gallery: AppTest) -> None:
    assert any(DISCLAIMER in e.value for e in gallery.error)
    assert any("Showing 12 of 12 cases" in c.value for c in gallery.caption)
    captions = [m.value for m in gallery.markdown if "· truth **" in m.value]
    assert len(captions) == 12
    assert any(":red[wrong]" in c for c in captions) and any(":green[right]" in c for c in captions)
    assert len([b for b in gallery.button if b.key.startswith("gallery.open.")]) == 12


def test_filters_narrow_the_cards(gallery: AppTest) -> None:
    gallery.multiselect(key="gallery.subtypes").set_value(["TNBC"]).run()
    captions = [m.value for m in gallery.markdown if "· truth **" in m.value]
    assert captions and all("TNBC · truth" in c for c in captions)
    assert any(c.startswith(":orange[:material/warning: flagged, not judged]") for c in captions)
    gallery.radio(key="gallery.verdict").set_value("wrong").run()
    captions = [m.value for m in gallery.markdown if "· truth **" in m.value]
    assert captions and all("TNBC · truth" in c and ":red[wrong]" in c for c in captions)
    gallery.multiselect(key="gallery.outcomes").set_value(["pCR"]).run()
    assert any("No case passes these filters" in i.value for i in gallery.info)


def test_open_carries_the_case_to_its_truth(gallery: AppTest) -> None:
    gallery.button(key="gallery.open.PH00010").click().run()
    assert not gallery.exception
    assert gallery.selectbox(key="truth.case").value == "PH00010"
    assert any("True outcome: **none**" in m.value for m in gallery.markdown)


def test_a_bad_cohort_size_is_refused_in_one_line(gallery: AppTest) -> None:
    # the widget bounds keep n within 1..2000; the engine names a bad one
    from mmcrnet.errors import InvalidArgument
    from mmcrnet.teach.gallery import folder_name

    with pytest.raises(InvalidArgument, match="n must be from 1 to 2000"):
        folder_name(2001, 1)
    assert gallery.number_input(key="gallery.n").max == 2000
