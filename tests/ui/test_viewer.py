"""The viewer (AppTest and its pure parts): presets and the dragged window, contrast aids and
slices change what is shown, never what the model read or its answer."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from mmcrnet.errors import InvalidArgument
from mmcrnet.view import AIDS, View, display
from ui.viewer import viewer_figure

APP = str(Path(__file__).resolve().parent.parent.parent / "app.py")


def test_display_windows_and_aids_return_copies() -> None:
    rng = np.random.default_rng(0)
    pixels = rng.random((64, 64)).astype(np.float32)
    kept = pixels.copy()
    for aid in AIDS:
        shown = display(pixels, View(0.2, 0.8, aid, 1.0 if aid == "Gaussian smoothing" else 0.02))
        assert shown.shape == pixels.shape and 0.0 <= shown.min() and shown.max() <= 1.0
    assert np.array_equal(pixels, kept)
    narrow = display(pixels, View(0.4, 0.6))
    assert (narrow == 0).mean() > 0.3 and (narrow == 1).mean() > 0.3  # outside the window
    with pytest.raises(InvalidArgument, match="must satisfy 0 <= low < high <= 1"):
        View(0.6, 0.4)
    with pytest.raises(InvalidArgument, match="contrast aid 'sharpen' is not one of"):
        View(aid="sharpen")


def test_the_map_follows_the_view_in_shared_axes() -> None:
    pictures = [np.zeros((8, 8), dtype=np.float32)] * 3
    cam = np.zeros((8, 8))
    cam[2:4, 2:4] = 0.9
    figure = viewer_figure(pictures, ["pre", "early", "late"], cam, 0.5)
    assert len(figure.data) == 6  # a picture and its map per phase, in the same axes
    # zoom and pan in one panel move all: every panel's axes match the first's
    layout = figure.layout
    assert (layout.xaxis2.matches, layout.xaxis3.matches) == ("x", "x")
    assert (layout.yaxis2.matches, layout.yaxis3.matches) == ("y", "y")
    assert [t.xaxis for t in figure.data] == ["x", "x", "x2", "x2", "x3", "x3"]
    assert len(viewer_figure(pictures, ["a", "b", "c"], None, 0.5).data) == 3


def test_viewer_settings_never_change_the_answer() -> None:
    at = AppTest.from_file(APP, default_timeout=240).run()
    at.selectbox(key="predict.example").set_value("PH00019").run()
    next(b for b in at.button if b.label == "Predict").click().run()
    result = at.session_state["predict.result"]
    before = (
        hashlib.sha1(result.study.image.tobytes()).hexdigest(),
        result.explanation.prediction.probabilities,
    )
    assert not any(s.key == "viewer.preset" for s in at.selectbox)  # built only when opened
    at.session_state["predict.viewer_open"] = True  # the expander opened
    at.run()
    at.selectbox(key="viewer.preset").set_value("Soft tissue").run()
    assert at.slider(key="viewer.window").value == (0.05, 0.55)
    at.selectbox(key="viewer.aid").set_value("CLAHE").run()
    at.slider(key="viewer.window").set_value((0.3, 0.7)).run()
    assert not at.exception
    assert any("Window 0.30 to 0.70 (level 0.50" in c.value for c in at.caption)
    result = at.session_state["predict.result"]
    after = (
        hashlib.sha1(result.study.image.tobytes()).hexdigest(),
        result.explanation.prediction.probabilities,
    )
    assert after == before
