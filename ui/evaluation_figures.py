"""Plotly figures of an evaluation (pure functions: plain data -> Figure): ROC curves, the
confusion matrix, the reliability diagram, subgroup metrics and global feature importance.

Shared by the Model page and the cohort evaluation; each figure has a text equivalent on the
page (a table or a sentence), so no number lives only in a picture.
"""

from __future__ import annotations

from typing import Any

import plotly.graph_objects as go

from mmcrnet import OUTCOMES
from mmcrnet.explain import feature_label
from ui.figures import OUTCOME_COLOURS

LAYOUT: dict[str, Any] = {
    "margin": {"l": 10, "r": 10, "t": 40, "b": 10},
    "height": 360,
    "legend": {"orientation": "h", "y": -0.2},
}


def _diagonal(name: str) -> go.Scatter:
    """The dotted y = x reference line (chance on a ROC, perfect calibration on a
    reliability diagram)."""
    return go.Scatter(
        x=[0, 1],
        y=[0, 1],
        mode="lines",
        line={"dash": "dot", "color": "#999"},
        name=name,
        hoverinfo="skip",
    )


def roc_figure(curves: dict[str, Any]) -> go.Figure:
    """One-vs-rest ROC curve of each outcome, with its AUC in the legend, and the chance line."""
    figure = go.Figure()
    figure.add_trace(_diagonal("chance"))
    for curve in curves["roc"]:
        if not curve["fpr"]:
            continue
        auc = curve["auc"]
        figure.add_trace(
            go.Scatter(
                x=curve["fpr"],
                y=curve["tpr"],
                mode="lines",
                name=f"{curve['outcome']} (AUC {auc:.3f})" if auc is not None else curve["outcome"],
                line={"color": OUTCOME_COLOURS.get(curve["outcome"])},
            )
        )
    figure.update_layout(
        title="ROC (each outcome vs the rest)",
        xaxis_title="false positive rate",
        yaxis_title="true positive rate",
        **LAYOUT,
    )
    figure.update_xaxes(range=[0, 1], constrain="domain")
    figure.update_yaxes(range=[0, 1], scaleanchor="x", scaleratio=1)
    return figure


def confusion_figure(curves: dict[str, Any]) -> go.Figure:
    """Counts, rows the true outcome, columns the predicted one, each cell labelled with its
    count and its share of the row."""
    counts = curves["confusion"]
    totals = [max(sum(row), 1) for row in counts]
    text = [[f"{v}<br>{v / total:.0%}" for v in row] for row, total in zip(counts, totals)]
    figure = go.Figure(
        go.Heatmap(
            z=[[v / total for v in row] for row, total in zip(counts, totals)],
            x=[f"predicted {o}" for o in OUTCOMES],
            y=[f"true {o}" for o in OUTCOMES],
            text=text,
            texttemplate="%{text}",
            colorscale="Blues",
            zmin=0,
            zmax=1,
            showscale=False,
            hovertemplate="%{y}, %{x}: %{text}<extra></extra>",
        )
    )
    figure.update_layout(title="Confusion (share of true)", **LAYOUT)
    figure.update_yaxes(autorange="reversed")
    return figure


def reliability_figure(curves: dict[str, Any]) -> go.Figure:
    """Accuracy against confidence per bin of the top probability (the ECE's bins), with the
    diagonal of perfect calibration; the bar under it counts the cases per bin."""
    bins = [b for b in curves["reliability"] if b["count"]]
    figure = go.Figure()
    figure.add_trace(_diagonal("perfectly calibrated"))
    figure.add_trace(
        go.Scatter(
            x=[b["confidence"] for b in bins],
            y=[b["accuracy"] for b in bins],
            mode="lines+markers",
            marker={"size": [6 + 14 * (b["count"] / max(c["count"] for c in bins)) for b in bins]},
            name="model",
            customdata=[b["count"] for b in bins],  # marker size: cases in the bin
            hovertemplate="confidence %{x:.2f}, accuracy %{y:.2f}, %{customdata} cases"
            "<extra></extra>",
        )
    )
    figure.update_layout(
        title="Reliability",
        xaxis_title="confidence (top probability)",
        yaxis_title="accuracy",
        **LAYOUT,
    )
    figure.update_xaxes(range=[0, 1])
    figure.update_yaxes(range=[0, 1])
    return figure


def breakdown_figure(rows: list[dict[str, Any]]) -> go.Figure:
    """Macro AUC per subgroup, grouped by what splits them (time points, subtype, image)."""
    shown = [r for r in rows if r.get("macro AUC") is not None]
    figure = go.Figure(
        go.Bar(
            x=[f"{r['by']}: {r['group']}" for r in shown],
            y=[r["macro AUC"] for r in shown],
            text=[f"{r['macro AUC']:.3f}" for r in shown],
            textposition="outside",
            marker_color="#4c78a8",
        )
    )
    figure.update_layout(title="Macro AUC by subgroup", yaxis_title="macro AUC", **LAYOUT)
    figure.update_yaxes(range=[0.5, 1.0])
    return figure


def importance_figure(rows: list[dict[str, Any]]) -> go.Figure:
    """Each feature's global importance, the model's beside the truth's (both mean |log-odds|
    on the response axis), largest model importance at the top."""
    labels = [feature_label(r["feature"]) for r in rows][::-1]
    figure = go.Figure()
    figure.add_trace(
        go.Bar(y=labels, x=[r["model"] for r in rows][::-1], orientation="h", name="model (IG)")
    )
    figure.add_trace(
        go.Bar(
            y=labels,
            x=[r["truth"] for r in rows][::-1],
            orientation="h",
            name="truth",
            marker_color="#bbbbbb",
        )
    )
    figure.update_layout(
        title="Global importance: mean |contribution| to log P(pCR) - log P(none)",
        barmode="group",
        **{**LAYOUT, "height": max(360, 22 * len(rows) + 120)},
    )
    return figure


def training_figure(history: list[dict[str, Any]]) -> go.Figure:
    """Loss (training and validation) and validation AUC per epoch, as training reports them."""
    epochs = [r["epoch"] for r in history]
    figure = go.Figure()
    figure.add_trace(
        go.Scatter(x=epochs, y=[r["train_loss"] for r in history], name="training loss")
    )
    figure.add_trace(
        go.Scatter(x=epochs, y=[r["val_loss"] for r in history], name="validation loss")
    )
    figure.add_trace(
        go.Scatter(
            x=epochs,
            y=[r["val_auc"] for r in history],
            name="validation macro AUC",
            yaxis="y2",
            line={"dash": "dash"},
        )
    )
    figure.update_layout(
        title="Training curves",
        xaxis_title="epoch",
        yaxis={"title": "loss"},
        yaxis2={"title": "AUC", "overlaying": "y", "side": "right", "range": [0.4, 1.0]},
        **LAYOUT,
    )
    return figure
