"""The viewer a radiologist expects, on the Predict page: window/level (presets, or drag the
two ends of the window), zoom and pan (drag on any phase: the phases move together), slices
scrolled in step across the phases, and display-only contrast aids. The map is drawn over the
slice the model read and follows every zoom, pan and window change; nothing here changes what
the model reads (:mod:`mmcrnet.view` returns copies for the screen)."""

from __future__ import annotations

from typing import cast

import numpy as np
import plotly.graph_objects as go
import streamlit as st
from plotly.subplots import make_subplots

from mmcrnet import Study
from mmcrnet.view import AIDS, WINDOW_PRESETS, View, display

PRESET, WINDOW = "viewer.preset", "viewer.window"


def _preset_changed() -> None:
    st.session_state[WINDOW] = WINDOW_PRESETS[st.session_state[PRESET]]


def viewer_figure(
    pictures: list[np.ndarray], captions: list[str], cam: np.ndarray | None, opacity: float
) -> go.Figure:
    """One panel per phase with shared axes (zoom and pan in one move them all), grey pixels
    and, where given, the signed map over them (red towards pCR, blue towards no response)."""
    figure = make_subplots(
        rows=1,
        cols=len(pictures),
        shared_xaxes="all",
        shared_yaxes="all",
        subplot_titles=captions,
        horizontal_spacing=0.01,
    )
    for i, picture in enumerate(pictures, start=1):
        figure.add_trace(
            go.Heatmap(
                z=picture,
                colorscale=[[0.0, "black"], [1.0, "white"]],
                zmin=0.0,
                zmax=1.0,
                showscale=False,
                hovertemplate="row %{y}, column %{x}: %{z:.2f}<extra></extra>",
            ),
            row=1,
            col=i,
        )
        if cam is not None and opacity > 0:
            figure.add_trace(
                go.Heatmap(
                    z=np.where(np.abs(cam) < 0.05, np.nan, cam),
                    colorscale="RdBu",
                    reversescale=True,
                    zmin=-1.0,
                    zmax=1.0,
                    opacity=opacity,
                    showscale=i == len(pictures),
                    colorbar={"title": "towards<br>pCR", "len": 0.8},
                    hovertemplate="map %{z:+.2f}<extra></extra>",
                ),
                row=1,
                col=i,
            )
    figure.update_yaxes(autorange="reversed", scaleanchor="x", showticklabels=False)
    figure.update_xaxes(showticklabels=False)
    figure.update_layout(height=380, margin={"l": 0, "r": 0, "t": 30, "b": 0}, dragmode="zoom")
    return figure


def viewer_ui(
    study: Study, cam: np.ndarray | None, read_slice: int, captions: list[str] | None = None
) -> View:
    """The viewer over every phase of ``study``; ``cam`` is the map of slice ``read_slice``;
    ``captions`` name the phases (default: their labels)."""
    st.session_state.setdefault(PRESET, "Full range")
    st.session_state.setdefault(WINDOW, WINDOW_PRESETS["Full range"])
    top = st.columns([2, 3, 2, 2], vertical_alignment="bottom")
    top[0].selectbox("Window preset", list(WINDOW_PRESETS), key=PRESET, on_change=_preset_changed)
    window = top[1].slider(
        "Window (drag either end; the level is its centre)",
        0.0,
        1.0,
        key=WINDOW,
        step=0.01,
    )
    low, high = (float(v) for v in cast(tuple[float, float], window))
    low = min(low, 0.99)  # both ends dragged to 1: still a window
    aid = top[2].selectbox(
        "Contrast aid (display only)",
        AIDS,
        key="viewer.aid",
        help="Changes what you see, never what the model reads.",
    )
    opacity = top[3].slider("Map opacity", 0.0, 1.0, 0.4, 0.05, key="viewer.opacity")
    strength = 0.01
    if aid == "CLAHE":
        strength = st.slider("CLAHE clip limit", 0.005, 0.1, 0.02, 0.005, key="viewer.clip")
    elif aid == "Gaussian smoothing":
        strength = st.slider("Smoothing sigma (pixels)", 0.5, 5.0, 1.0, 0.5, key="viewer.sigma")
    slices = study.shape[1]
    index = read_slice
    if slices > 1:
        index = (
            st.slider(
                "Slice (all phases scroll together)", 1, slices, read_slice + 1, key="viewer.slice"
            )
            - 1
        )
    view = View(low, max(high, low + 0.01), aid, strength)
    pictures = [display(p.volume[index], view) for p in study.phases]
    if captions is None or len(captions) != len(study.phases):
        captions = [p.label for p in study.phases]
    shown_cam = cam if index == read_slice else None
    st.plotly_chart(
        viewer_figure(pictures, captions, shown_cam, opacity),
        key="viewer.figure",
        config={"scrollZoom": True, "displaylogo": False},
    )
    note = (
        f"The map is drawn on slice {read_slice + 1}, the one the model read."
        if slices > 1
        else "Drag a box to zoom (double-click to go back); the phases zoom and pan together."
    )
    st.caption(
        f"Window {view.low:.2f} to {view.high:.2f} (level {view.centre:.2f}, width "
        f"{view.width:.2f}) on the study's display scale; contrast aid: {aid}. {note}"
    )
    return view
