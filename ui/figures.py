"""Plotly figures of a prediction and its explanation (pure functions: Explanation -> Figure).

No Streamlit here, so the figures can be tested and reused by reports.
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from mmcrnet import OUTCOMES
from mmcrnet.explain import MODALITIES, Explanation, feature_label
from mmcrnet.explain.overlay import EVIDENCE_LUT, colour_bar, overlay

__all__ = ["EVIDENCE_LUT", "colour_bar", "overlay"]  # drawn by the engine, shown here

#: Contributions smaller than this (half a percentage point) are drawn as zero.
NEGLIGIBLE = 0.005
OUTCOME_COLOURS = {"pCR": "#1b9e77", "partial": "#d95f02", "none": "#7570b3"}


def attribution_heatmap(explanation: Explanation) -> go.Figure:
    """Features x time points, signed (towards the target = red), features that never matter
    left out."""
    sequence = explanation.sequence
    assert sequence is not None
    table = sequence.integrated_gradients.T  # (features, time points)
    keep = np.abs(table).max(axis=1) > 0
    labels = [feature_label(f) for f, k in zip(sequence.features, keep) if k]
    columns = [f"{tp} (week {w:g})" for tp, w in zip(sequence.time_points, sequence.weeks)]
    limit = float(np.abs(table).max()) or 1.0
    figure = go.Figure(
        go.Heatmap(
            z=table[keep],
            x=columns,
            y=labels,
            colorscale="RdBu",
            reversescale=True,
            zmin=-limit,
            zmax=limit,
            colorbar={"title": f"towards<br>{explanation.target}"},
            hovertemplate="%{y}, %{x}: %{z:+.3f}<extra></extra>",
        )
    )
    figure.update_layout(
        height=max(300, 22 * len(labels) + 80),
        margin={"l": 10, "r": 10, "t": 10, "b": 10},
        yaxis={"autorange": "reversed"},
    )
    return figure


def top_reasons(explanation: Explanation, k: int = 10) -> go.Figure:
    """The k largest reasons as bars labelled in words ("ctDNA at week 3: towards pCR")."""
    statements = explanation.statements(k)
    figure = go.Figure(
        go.Bar(
            x=[s.value for s in statements],
            y=[s.text for s in statements],
            orientation="h",
            marker_color=["#b2182b" if s.value > 0 else "#2166ac" for s in statements],
            hovertemplate="%{y}: %{x:+.3f} log-odds<extra></extra>",
        )
    )
    figure.update_layout(
        height=max(250, 30 * len(statements) + 60),
        xaxis={"title": f"change in log-odds of {explanation.target}"},
        yaxis={"autorange": "reversed"},
        margin={"l": 10, "r": 10, "t": 10, "b": 10},
    )
    return figure


def modalities(explanation: Explanation) -> go.Figure:
    """Shapley values of image, clinical and genomic data for each outcome's probability."""
    shapley = np.where(
        np.abs(explanation.modalities.shapley) < NEGLIGIBLE, 0.0, explanation.modalities.shapley
    )  # numerical noise is not a contribution
    figure = go.Figure(
        [
            go.Bar(
                name=outcome,
                x=list(MODALITIES),
                y=shapley[:, j],
                marker_color=OUTCOME_COLOURS[outcome],
            )
            for j, outcome in enumerate(OUTCOMES)
        ]
    )
    limit = max(0.1, float(np.abs(shapley).max()) * 1.1)  # small values stay small
    figure.update_layout(
        barmode="group",
        height=280,
        yaxis={"title": "change in probability", "tickformat": "+.0%", "range": [-limit, limit]},
        margin={"l": 10, "r": 10, "t": 10, "b": 10},
    )
    return figure


def trajectory(explanation: Explanation) -> go.Figure:
    """The probabilities with the first 1, 2, ... time points."""
    rows = explanation.trajectory
    x = [str(r["time_point"]) for r in rows]
    figure = go.Figure(
        [
            go.Scatter(
                x=x,
                y=[float(r[o]) for r in rows],
                name=o,
                mode="lines+markers",
                line_color=OUTCOME_COLOURS[o],
            )
            for o in OUTCOMES
        ]
    )
    figure.update_layout(
        height=260,
        yaxis={"range": [0, 1], "tickformat": ".0%"},
        xaxis={"title": "time points used"},
        margin={"l": 10, "r": 10, "t": 10, "b": 10},
    )
    return figure
