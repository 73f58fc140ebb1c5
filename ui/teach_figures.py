"""Pictures and charts of the teaching pages (pure functions, no Streamlit): the true tumour's
outline and points drawn on an image, the model's reasons beside the truth's, the probabilities
of the model, the ideal observer and the oracle, and the "what if" curves."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots
from scipy.ndimage import binary_erosion

from mmcrnet import OUTCOMES
from mmcrnet.teach.agreement import CaseAgreement
from mmcrnet.teach.whatif import Sweep
from ui.figures import OUTCOME_COLOURS

OUTLINE = (255, 221, 0)  # the true tumour: yellow, apart from the map's red and blue
LEARNER = (0, 230, 118)  # the learner's point: green
MODEL_POINT = (255, 255, 255)  # the model's strongest point: white
TRUTH_COLOUR, MODEL_COLOUR = "#444444", "#b2182b"
SOURCES = {"model": "the model", "ideal": "ideal observer", "oracle": "oracle"}
DASHES = {"model": "solid", "ideal": "dash", "oracle": "dot"}


def gray(pixels: np.ndarray) -> np.ndarray:
    """(H, W) in [0, 1] -> (H, W, 3) uint8."""
    return (np.clip(pixels, 0.0, 1.0) * 255.0).round().astype(np.uint8)[..., None].repeat(3, 2)


def outline(
    rgb: np.ndarray, mask: np.ndarray, colour: tuple[int, int, int] = OUTLINE
) -> np.ndarray:
    """The picture with the mask's border (one pixel inside it) drawn in ``colour``."""
    if mask.shape != rgb.shape[:2]:
        raise ValueError(f"mask {mask.shape} does not match the picture {rgb.shape[:2]}")
    border = mask & ~binary_erosion(mask)
    out = rgb.copy()
    out[border] = colour
    return out


def cross(
    rgb: np.ndarray, point: tuple[float, float], colour: tuple[int, int, int], size: int = 6
) -> np.ndarray:
    """The picture with a cross (arms of ``size`` px, a dark edge so it shows on any tissue)
    at ``point`` (row, column)."""
    out = rgb.copy()
    row, col = int(round(point[0])), int(round(point[1]))
    height, width = out.shape[:2]
    for offset, shade in ((1, (0, 0, 0)), (0, colour)):
        for d in range(-size, size + 1):
            for r, c in ((row + d, col + offset), (row + offset, col + d)):
                if 0 <= r < height and 0 <= c < width:
                    out[r, c] = shade
    return out


def agreement_chart(agreement: CaseAgreement) -> go.Figure:
    """Each baseline feature's share of the push, the truth's beside the model's, in the same
    order on the same axis (signed: > 0 towards pCR)."""
    rows = [r for r in agreement.rows if abs(r.truth_share) >= 0.01 or abs(r.model_share) >= 0.01]
    labels = [f"{r.label} ({r.value.strip('()')})" if r.value else r.label for r in rows]
    figure = go.Figure(
        [
            go.Bar(
                name="truth",
                y=labels,
                x=[r.truth_share for r in rows],
                orientation="h",
                marker_color=TRUTH_COLOUR,
                hovertemplate="%{y}: %{x:+.0%} of the truth's push<extra></extra>",
            ),
            go.Bar(
                name="the model",
                y=labels,
                x=[r.model_share for r in rows],
                orientation="h",
                marker_color=MODEL_COLOUR,
                hovertemplate="%{y}: %{x:+.0%} of the model's push<extra></extra>",
            ),
        ]
    )
    figure.update_layout(
        barmode="group",
        height=max(320, 34 * len(rows) + 90),
        xaxis={"title": "share of the push (towards pCR > 0)", "tickformat": "+.0%"},
        yaxis={"autorange": "reversed"},
        legend={"orientation": "h", "y": 1.02, "yanchor": "bottom"},
        margin={"l": 10, "r": 10, "t": 30, "b": 10},
    )
    return figure


def probability_chart(
    model: dict[str, float], ideal: dict[str, float] | None, oracle: dict[str, float]
) -> go.Figure:
    """The outcome probabilities of the model, the ideal observer and the oracle."""
    sources = [("the model", model, MODEL_COLOUR), ("oracle (knows u)", oracle, "#999999")]
    if ideal is not None:
        sources.insert(1, ("ideal observer", ideal, TRUTH_COLOUR))
    figure = go.Figure(
        [
            go.Bar(
                name=name,
                x=list(OUTCOMES),
                y=[values[o] for o in OUTCOMES],
                marker_color=colour,
                hovertemplate="%{x}: %{y:.0%}<extra>" + name + "</extra>",
            )
            for name, values, colour in sources
        ]
    )
    figure.update_layout(
        barmode="group",
        height=280,
        yaxis={"range": [0, 1], "tickformat": ".0%", "title": "probability"},
        legend={"orientation": "h", "y": 1.02, "yanchor": "bottom"},
        margin={"l": 10, "r": 10, "t": 30, "b": 10},
    )
    return figure


def whatif_chart(sweep: Sweep) -> go.Figure:
    """One panel per outcome: the model (solid), the ideal observer (dashed) and the oracle
    (dotted) over the input's values; the case's own value marked, values the model cannot
    judge drawn as crosses."""
    figure = make_subplots(
        rows=1, cols=len(OUTCOMES), shared_yaxes=True, subplot_titles=[f"P({o})" for o in OUTCOMES]
    )
    x = [sweep.shown(v) if isinstance(v, str) else v for v in sweep.values]
    flagged = np.array([bool(why) for why in sweep.flagged])
    model = sweep.model.copy()
    model[flagged] = np.nan  # the line breaks where the model cannot judge
    series = {"model": model, "ideal": sweep.ideal, "oracle": sweep.oracle}
    for key in series:  # the legend in grey: line styles, not outcome colours
        figure.add_trace(
            go.Scatter(
                x=[None],
                y=[None],
                name=SOURCES[key],
                mode="lines+markers" if key == "model" else "lines",
                line={"color": "#555", "dash": DASHES[key]},
            ),
            row=1,
            col=1,
        )
    if flagged.any():
        figure.add_trace(
            go.Scatter(
                x=[None],
                y=[None],
                name="the model, flagged: cannot judge",
                mode="markers",
                marker={"symbol": "x", "color": "#999", "size": 8},
            ),
            row=1,
            col=1,
        )
    for j, outcome in enumerate(OUTCOMES):
        for key, values in series.items():
            figure.add_trace(
                go.Scatter(
                    x=x,
                    y=values[:, j],
                    name=SOURCES[key],
                    showlegend=False,
                    mode="lines+markers" if key == "model" else "lines",
                    line={"color": OUTCOME_COLOURS[outcome], "dash": DASHES[key]},
                    marker={"size": 6},
                    hovertemplate="%{x}: %{y:.0%}<extra>" + SOURCES[key] + "</extra>",
                ),
                row=1,
                col=j + 1,
            )
        if flagged.any():
            figure.add_trace(
                go.Scatter(
                    x=[v for v, f in zip(x, flagged) if f],
                    y=sweep.model[flagged, j],
                    showlegend=False,
                    mode="markers",
                    marker={"symbol": "x", "color": "#999", "size": 8},
                    hovertemplate="%{x}: %{y:.0%}<extra>flagged: the model cannot judge</extra>",
                ),
                row=1,
                col=j + 1,
            )
        current = sweep.shown(sweep.current) if isinstance(sweep.current, str) else sweep.current
        if not isinstance(current, float) or np.isfinite(current):
            figure.add_vline(x=current, line={"color": "#888", "width": 1}, row=1, col=j + 1)
    figure.update_yaxes(range=[0, 1], tickformat=".0%")
    title = f"{sweep.input.label}" + (f" ({sweep.input.unit})" if sweep.input.unit else "")
    figure.update_xaxes(title=title)
    figure.update_layout(
        height=340,
        legend={"orientation": "h", "y": 1.12, "yanchor": "bottom"},
        margin={"l": 10, "r": 10, "t": 60, "b": 10},
    )
    return figure


def click_figure(rgb: np.ndarray, step: int = 4) -> go.Figure:
    """The image as a chart a learner clicks on: an invisible grid of points every ``step``
    pixels over it, so a click selects the nearest point (row = y, column = x)."""
    height, width = rgb.shape[:2]
    rows, cols = np.mgrid[step // 2 : height : step, step // 2 : width : step]
    figure = go.Figure(go.Image(z=rgb, hoverinfo="skip"))
    figure.add_trace(
        go.Scatter(
            x=cols.ravel(),
            y=rows.ravel(),
            mode="markers",
            marker={"size": step * 2, "opacity": 0.0},
            hovertemplate="click to mark (%{x}, %{y})<extra></extra>",
            showlegend=False,
        )
    )
    figure.update_layout(
        height=420,
        margin={"l": 0, "r": 0, "t": 0, "b": 0},
        xaxis={"visible": False, "range": [0, width]},
        yaxis={"visible": False, "range": [height, 0], "scaleanchor": "x"},
        clickmode="event+select",
        dragmode=False,
    )
    return figure
