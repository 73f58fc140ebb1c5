"""One case's result as a PDF a clinician takes away (``python -m mmcrnet report`` and the
Predict page's button).

    explanation + inputs + guard (+ the case's visits) -> charts (matplotlib, no browser)
    -> HTML (one template, the images inline) -> PDF (WeasyPrint)

WeasyPrint lays out HTML and CSS itself (Pango for text): no browser at run time, repeatable
page layout with CSS paged media (the research-use statement in every page's margin box), and
a maintained BSD-licensed library. Charts are matplotlib PNGs for the same reason: plotly's
static export (kaleido) would start a Chromium for every report.
"""

from __future__ import annotations

import base64
import datetime as dt
import html
import io
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from matplotlib.figure import Figure
from PIL import Image

from mmcrnet.explain.explanation import Explanation, feature_label
from mmcrnet.explain.modalities import MODALITIES
from mmcrnet.explain.overlay import colour_bar, overlay
from mmcrnet.features import FEATURES_BY_NAME, OUTCOMES, STATIC_FEATURES
from mmcrnet.guard import GuardReport
from mmcrnet.io import Study
from mmcrnet.report import APP_VERSION, DISCLAIMER, Pseudonyms, file_names, percent

OUTCOME_COLOURS = {"pCR": "#1b9e77", "partial": "#d95f02", "none": "#7570b3"}
TOWARDS, AWAY = "#b2182b", "#2166ac"

CSS = """
@page {
  size: A4; margin: 22mm 16mm 20mm 16mm;
  @top-center { content: "%(disclaimer)s"; color: #b00020; font: bold 9pt sans-serif; }
  @bottom-left { content: "OncoPredict %(version)s · %(label)s"; font: 8pt sans-serif;
                 color: #555; }
  @bottom-right { content: "page " counter(page) " of " counter(pages); font: 8pt sans-serif;
                  color: #555; }
}
body { font: 10pt sans-serif; color: #222; }
h1 { font-size: 16pt; margin: 0 0 4pt 0; }
h2 { font-size: 12pt; margin: 14pt 0 4pt 0; border-bottom: 1px solid #ccc; }
table { border-collapse: collapse; width: 100%%; margin: 4pt 0; }
td, th { border: 1px solid #ddd; padding: 2pt 4pt; text-align: left; font-size: 8.5pt; }
th { background: #f3f3f3; }
.warn { color: #8a4b00; } .flag { color: #b00020; font-weight: bold; }
.maps img { width: 32%%; margin-right: 1%%; }
.chart { width: 100%%; }
.bar { width: 45%%; }
.small { font-size: 8pt; color: #555; }
.keep { page-break-inside: avoid; }
"""


@dataclass(frozen=True)
class PdfReport:
    """The PDF and how long it took to build (seconds, charts and layout)."""

    data: bytes
    seconds: float
    pages: int


def _figure(size: tuple[float, float]) -> tuple[Figure, Any]:
    """A figure of its own (no pyplot state: sessions build reports at the same time)."""
    figure = Figure(figsize=size)
    return figure, figure.add_subplot()


def _png(figure: Figure) -> str:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=150, bbox_inches="tight")
    return _data_uri(buffer.getvalue())


def _data_uri(data: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(data).decode()


def _array_png(array: np.ndarray) -> str:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG")
    return _data_uri(buffer.getvalue())


def reasons_chart(explanation: Explanation, k: int = 10) -> str | None:
    statements = explanation.statements(k)
    if not statements:
        return None
    figure, axis = _figure((7.0, 0.32 * len(statements) + 0.8))
    values = [s.value for s in statements][::-1]
    axis.barh(
        [s.text for s in statements][::-1],
        values,
        color=[TOWARDS if v > 0 else AWAY for v in values],
    )
    axis.axvline(0, color="#888", linewidth=0.8)
    axis.set_xlabel(f"change in log-odds of {explanation.target}")
    axis.tick_params(labelsize=7)
    return _png(figure)


def modalities_chart(explanation: Explanation) -> str:
    shapley = explanation.modalities.shapley
    figure, axis = _figure((4.2, 2.4))
    width = 0.25
    x = np.arange(len(MODALITIES))
    for j, outcome in enumerate(OUTCOMES):
        axis.bar(
            x + (j - 1) * width, shapley[:, j], width, label=outcome, color=OUTCOME_COLOURS[outcome]
        )
    axis.set_xticks(x, list(MODALITIES))
    axis.axhline(0, color="#888", linewidth=0.8)
    axis.set_ylabel("change in probability")
    axis.legend(fontsize=7)
    axis.tick_params(labelsize=7)
    return _png(figure)


def trajectory_chart(rows: Sequence[Mapping[str, Any]], x_key: str, x_label: str) -> str:
    figure, axis = _figure((4.2, 2.4))
    x = [str(r[x_key]) for r in rows]
    for outcome in OUTCOMES:
        axis.plot(
            x,
            [float(r[outcome]) for r in rows],
            marker="o",
            label=outcome,
            color=OUTCOME_COLOURS[outcome],
        )
    axis.set_ylim(0, 1)
    axis.set_xlabel(x_label)
    axis.set_ylabel("probability")
    axis.legend(fontsize=7)
    axis.tick_params(labelsize=7)
    return _png(figure)


def _css_string(text: str) -> str:
    """``text`` safe inside a CSS string: anything but letters, digits and plain punctuation
    as a CSS escape (so a label cannot close the string, the rule or the style element)."""
    return "".join(c if c.isalnum() or c in " -_.,:()" else f"\\{ord(c):x} " for c in text)


def _only_inline() -> object:
    """WeasyPrint's URL fetcher for our reports: the images are inline (``data:`` URLs) and no
    other protocol is allowed, so nothing a label could name (a server file, a network
    address) is ever fetched."""
    from weasyprint.urls import URLFetcher

    return URLFetcher(allowed_protocols={"data"})


def _table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in header)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>" for row in rows
    )
    return f"<table><tr>{head}</tr>{body}</table>"


def _value(value: object) -> str:
    return "" if value is None or (isinstance(value, float) and np.isnan(value)) else str(value)


def build_pdf(
    explanation: Explanation,
    static: Mapping[str, object],
    timepoints: Sequence[Mapping[str, object]],
    study: Study | None,
    guard: GuardReport | None,
    left_out: Sequence[str] = (),
    label: str | None = None,
    visits: Sequence[Mapping[str, Any]] = (),
    now: dt.datetime | None = None,
) -> PdfReport:
    """The case's report as PDF bytes.

    Args:
        visits: the case's trajectory across visits (the store's rows: visit, date, time
            points, the probabilities, the model), drawn when there are two or more.
    """
    from weasyprint import HTML  # imported on first use: it loads Pango

    started = time.perf_counter()
    prediction = explanation.prediction
    # file and folder names never reach the report
    names = Pseudonyms(file_names(study) + [line.split(": ", 1)[0] for line in left_out])
    stamp = (now or dt.datetime.now(dt.UTC)).strftime("%Y-%m-%d %H:%M UTC")
    name = label or "unlabelled case"
    parts = [
        f"<h1>Response to neoadjuvant chemotherapy: {html.escape(name)}</h1>",
        f"<p class='small'>Made {stamp} by OncoPredict {APP_VERSION}. "
        f"{html.escape(DISCLAIMER)}</p>",
        "<h2>Model</h2>",
        _table(
            ("model", ""),
            [
                ("name", prediction.model),
                ("version", f"served by OncoPredict {APP_VERSION}"),
                ("weights (SHA-256)", prediction.weights_sha256),
                ("training data", prediction.training_data),
            ],
        ),
        "<h2>Result</h2>",
    ]
    flagged = guard is not None and not guard.ok
    if flagged and guard is not None:
        parts.append(
            "<p class='flag'>Flagged: the model cannot judge this case, so the probabilities "
            "below are not a reliable answer: "
            + html.escape(names.text("; ".join(guard.image_reasons + guard.tabular_reasons)))
            + "</p>"
        )
    parts.append(
        _table(
            ("outcome", "calibrated probability"),
            [
                (
                    o + (" (most likely)" if o == prediction.label else ""),
                    percent(prediction.probabilities[o]),
                )
                for o in OUTCOMES
            ],
        )
    )
    parts.append(
        f"<p class='small'>{prediction.time_points} time point(s); image: "
        f"{html.escape(explanation.image.kind if explanation.image else 'none')}. The "
        "probabilities are calibrated (temperature scaling) on the model's validation split.</p>"
    )
    parts.append("<h2>What the model read</h2>")
    parts.append(
        _table(
            ("baseline value", "as entered"),
            [
                (FEATURES_BY_NAME[f.name].label, _value(static.get(f.name)))
                for f in STATIC_FEATURES
                if _value(static.get(f.name))
            ],
        )
    )
    dynamic = [n for n, f in FEATURES_BY_NAME.items() if f.timing == "dynamic"]
    parts.append(
        _table(
            ("time point", "week", *[feature_label(n) for n in dynamic]),
            [
                (r.get("time_point"), _value(r.get("week")), *[_value(r.get(n)) for n in dynamic])
                for r in timepoints
            ],
        )
    )
    if study is not None:
        phases = ", ".join(
            names.text(p.label) + (f" ({p.time_s:g} s)" if p.time_s is not None else "")
            for p in study.phases
        )
        parts.append(
            f"<p>Image: {html.escape(study.modality)} {html.escape(study.kind)}, phases "
            f"{html.escape(phases)}, slice {study.slice_index + 1} of {study.shape[1]}.</p>"
        )
    parts.append(
        "<p><b>Left out:</b> "
        + (
            html.escape("; ".join(names.text(line) for line in left_out))
            if left_out
            else "nothing: every value and file given was read."
        )
        + "</p>"
    )
    image = explanation.image
    if image is not None and study is not None and image.axis_maps:
        indices = [p.index for p in image.phases] or list(range(len(image.channels)))
        cam = image.axis_maps["gradcam"]
        pictures = "".join(
            f"<img src='{_array_png(overlay(study.phases[i].volume[study.slice_index], cam, 0.5))}'>"  # noqa: E501
            for i in indices
        )
        parts.append("<div class='keep'><h2>Where the image pushes the prediction</h2>")
        parts.append(f"<div class='maps'>{pictures}</div>")
        parts.append(
            "<p class='small'>" + html.escape(names.text(" · ".join(image.channels))) + "</p>"
            f"<img class='bar' src='{_array_png(colour_bar(True, height=10, width=256))}'>"
            "<p class='small'>Colour bar: strongest towards no response (left, blue) to "
            "strongest towards pCR (right, red); Grad-CAM on log P(pCR) - log P(none).</p>"
        )
        if image.kind == "mammogram":
            parts.append(
                "<p class='warn'>Mammogram maps are not reliable yet: do not read where the "
                "evidence is from them.</p>"
            )
        parts.append("</div>")
    chart = reasons_chart(explanation)
    if chart is not None:
        parts.append(
            f"<div class='keep'><h2>Reasons in the clinical and genomic data</h2>"
            f"<img class='chart' src='{chart}'>"
            f"<p class='small'>Integrated Gradients for {html.escape(explanation.target)}: red "
            "towards it, blue away from it.</p></div>"
        )
    parts.append(
        "<div class='keep'><h2>What each kind of data contributed</h2>"
        f"<img style='width:60%' src='{modalities_chart(explanation)}'>"
        "<p class='small'>Shapley values of image, clinical and genomic data for each "
        "outcome's probability.</p></div>"
    )
    parts.append(
        "<div class='keep'><h2>The prediction with each time point</h2>"
        "<img style='width:60%' src='"
        + trajectory_chart(explanation.trajectory, "time_point", "time points used")
        + "'>"
        "</div>"
    )
    if len(visits) >= 2:
        parts.append(
            "<div class='keep'><h2>The prediction across visits</h2>"
            f"<img style='width:60%' src='{trajectory_chart(visits, 'visit', 'visit')}'>"
            + _table(
                ("visit", "date", "time points", *OUTCOMES, "model"),
                [
                    (
                        v["visit"],
                        v["date"],
                        v["time_points"],
                        *[percent(float(v[o])) for o in OUTCOMES],
                        v["model"],
                    )
                    for v in visits
                ],
            )
            + "</div>"
        )
    css = CSS % {
        "disclaimer": _css_string(DISCLAIMER),
        "version": APP_VERSION,
        "label": _css_string(name),
    }
    document = (
        f"<html><head><meta charset='utf-8'><style>{css}</style></head>"
        f"<body>{''.join(parts)}</body></html>"
    )
    rendered = HTML(string=document, url_fetcher=_only_inline()).render()
    data = rendered.write_pdf()
    assert isinstance(data, bytes)
    return PdfReport(data, time.perf_counter() - started, len(rendered.pages))
