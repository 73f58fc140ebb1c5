"""What if one input of a phantom case were different? The model's probabilities and the
truth's, over the input's range.

    case + input + values -> for each value: the changed form (or the tumour re-rendered with
    the changed latent, read back through the DICOM reader) -> prepare -> guard -> model
                          -> the truth: eta moved by the input's terms -> ideal observer, oracle
                          -> Sweep -> where the model departs from the truth, in words

A changed tumour property is drawn by the phantom's own renderer from the case's seed, so only
that property changes in the image; the model reads it as it reads any upload.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from mmcrnet.case import ClinicalCase
from mmcrnet.errors import InvalidArgument
from mmcrnet.explain.explanation import Explainer
from mmcrnet.features import FEATURES_BY_NAME, OUTCOMES
from mmcrnet.guard import Guard
from mmcrnet.io import RawFile, Study, read_study
from mmcrnet.phantom.writer import CaseRender, mammogram_dataset, mri_datasets
from mmcrnet.teach.case import TeachingCase
from mmcrnet.teach.observer import (
    ImpossibleObservation,
    eta_of,
    follow_ups,
    ideal_observer,
    oracle,
)

Value = float | str


@dataclass(frozen=True)
class WhatIfInput:
    """An input a learner can change.

    Attributes:
        name: key; label: what the page says; kind: "static" (a baseline form value),
            "dynamic" (a value at ``time_point``) or "latent" (a tumour property, re-rendered).
        field: the form feature or image latent it sets; unit: for the axis.
        low, high: the numeric range (None for a categorical input: its categories).
    """

    name: str
    label: str
    kind: str
    field: str
    unit: str = ""
    time_point: str | None = None
    low: float | None = None
    high: float | None = None

    @property
    def categories(self) -> tuple[str, ...]:
        return FEATURES_BY_NAME[self.field].categories if self.low is None else ()

    def grid(self, case: TeachingCase, points: int) -> list[Value]:
        """The values drawn: every category, or ``points`` evenly spaced over the range (for
        ctDNA up to twice the case's baseline value), the case's own value included."""
        if self.low is None:
            return list(self.categories)
        high = self.high
        if self.field == "ctdna_percent":
            baseline = _number(_row(case.clinical, "T0").get("ctdna_percent"))
            high = max(1.0, 2.0 * baseline) if np.isfinite(baseline) else 1.0
        assert high is not None
        values = set(np.round(np.linspace(self.low, high, points), 4).tolist())
        current = current_value(case, self)
        if isinstance(current, float) and np.isfinite(current):
            values.add(round(current, 4))
        return sorted(values)


WHAT_IF_INPUTS: tuple[WhatIfInput, ...] = (
    WhatIfInput("her2_status", "HER2 status", "static", "her2_status"),
    WhatIfInput("regimen", "Regimen", "static", "regimen"),
    WhatIfInput("ki67_percent", "Ki-67", "static", "ki67_percent", "%", None, 1.0, 95.0),
    WhatIfInput("er_percent", "ER", "static", "er_percent", "%", None, 0.0, 100.0),
    WhatIfInput("ctdna_t1", "ctDNA at week 3", "dynamic", "ctdna_percent", "%", "T1", 0.0, None),
    WhatIfInput(
        "diameter_t1",
        "Tumour diameter at week 3",
        "dynamic",
        "tumor_diameter_cm",
        "cm",
        "T1",
        0.2,
        10.0,
    ),
    WhatIfInput("washout", "Washout of the tumour", "latent", "washout", "", None, 0.0, 1.0),
    WhatIfInput(
        "heterogeneity",
        "Heterogeneity of the tumour",
        "latent",
        "heterogeneity",
        "",
        None,
        0.0,
        1.0,
    ),
    WhatIfInput("rim", "Rim enhancement of the tumour", "latent", "rim", "", None, 0.0, 1.0),
    WhatIfInput(
        "irregularity",
        "Margin irregularity of the tumour",
        "latent",
        "irregularity",
        "",
        None,
        0.0,
        1.0,
    ),
)
INPUTS_BY_NAME = {i.name: i for i in WHAT_IF_INPUTS}


@dataclass(frozen=True)
class Sweep:
    """The model and the truth over one input's values.

    Attributes:
        values: the input's values; current: the case's own value.
        model, ideal, oracle: (values, 3) probabilities (pCR, partial, none); ideal is NaN where
            the values cannot occur in the phantom world.
        flagged: per value, why the guard says the model cannot judge it ("" when it can).
        seconds: how long the sweep took.
    """

    input: WhatIfInput
    values: tuple[Value, ...]
    current: Value
    model: np.ndarray
    ideal: np.ndarray
    oracle: np.ndarray
    flagged: tuple[str, ...]
    seconds: float

    def shown(self, value: Value) -> str:
        """A value as the page says it ("35 %", "positive", "0.40")."""
        if isinstance(value, str):
            return value
        unit = f" {self.input.unit}" if self.input.unit else ""
        return f"{value:.3g}{unit}" if self.input.unit else f"{value:.2f}"

    def rows(self) -> list[dict[str, object]]:
        """The chart's text equivalent: one row per value."""
        out = []
        for i, value in enumerate(self.values):
            row: dict[str, object] = {self.input.label: self.shown(value)}
            for j, outcome in enumerate(OUTCOMES):
                row[f"model P({outcome})"] = round(float(self.model[i, j]), 3)
                ideal = self.ideal[i, j]
                row[f"ideal P({outcome})"] = None if np.isnan(ideal) else round(float(ideal), 3)
                row[f"oracle P({outcome})"] = round(float(self.oracle[i, j]), 3)
            row["model can judge"] = "no: " + self.flagged[i] if self.flagged[i] else "yes"
            out.append(row)
        return out

    def findings(self) -> list[str]:
        """Where the model departs from the ideal observer, in words (values the model cannot
        judge, or that cannot occur, are left out of the comparison and named)."""
        possible = ~np.isnan(self.ideal[:, 0])
        judged = np.array([not why for why in self.flagged], dtype=bool)
        usable = possible & judged
        out = []
        if not usable.any():
            out.append(
                "No value in this range is both possible in the phantom world and one the model "
                "can judge: there is nothing to compare."
            )
        else:
            gap = np.abs(self.model - self.ideal)
            gap[~usable] = -1.0
            i, j = (int(k) for k in np.unravel_index(int(np.argmax(gap)), gap.shape))
            if gap[i, j] < 0.05:
                out.append(
                    "The model follows the ideal observer within 5 points over the whole range."
                )
            else:
                out.append(
                    f"The model departs most from the ideal observer at {self.input.label} = "
                    f"{self.shown(self.values[i])}: P({OUTCOMES[j]}) {_pct(self.model[i, j])} "
                    f"against {_pct(self.ideal[i, j])}."
                )
            out += self._moves(usable)
        if self.input.kind == "dynamic":
            out.append(
                "The oracle does not move: it knows the patient's true chemosensitivity, and a "
                "measurement is evidence of it, not a cause."
            )
        if (~possible).any():
            shown = ", ".join(self.shown(v) for v, ok in zip(self.values, possible) if not ok)
            out.append(f"Cannot occur in the phantom world for this patient: {shown}.")
        flagged = [self.shown(v) for v, why in zip(self.values, self.flagged) if why]
        if flagged:
            out.append(
                "The model cannot judge the case at "
                + ", ".join(flagged)
                + " (outside what it was trained on): those answers are not reliable and are "
                "left out of the comparison."
            )
        return out

    def _moves(self, usable: np.ndarray) -> list[str]:
        """How P(pCR) and P(none) move over the usable values, the model against the ideal
        observer (in percentage points)."""
        out: list[str] = []
        values = [v for v, ok in zip(self.values, usable) if ok]
        if len(values) < 2:
            return out
        span = f"From {self.shown(values[0])} to {self.shown(values[-1])},"
        for j, outcome in ((0, "pCR"), (2, "none")):
            model_move = float(self.model[usable, j][-1] - self.model[usable, j][0])
            ideal_move = float(self.ideal[usable, j][-1] - self.ideal[usable, j][0])
            if max(abs(model_move), abs(ideal_move)) < 0.05:
                continue
            moves = (
                f"the model's P({outcome}) moves {_points(model_move)} and the ideal "
                f"observer's {_points(ideal_move)}"
            )
            if model_move * ideal_move < 0:
                verdict = "they move in opposite directions"
            elif abs(model_move) < 0.5 * abs(ideal_move):
                verdict = "the model under-reacts"
            elif abs(model_move) > 2 * abs(ideal_move) + 0.05:
                verdict = "the model over-reacts"
            else:
                verdict = "they move together"
            out.append(f"{span} {moves}: {verdict}.")
        return out


def _points(change: float) -> str:
    """ "+35 points": a change of probability in percentage points."""
    return f"{change * 100:+.0f} points"


def _pct(p: float, signed: bool = False) -> str:
    """ "49 %", "+7 %": a probability or a change of one, as the app writes them."""
    return (f"{p * 100:+.0f}" if signed else f"{p * 100:.0f}") + " %"


def _number(value: object) -> float:
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return float("nan")


def _row(clinical: ClinicalCase, time_point: str) -> dict[str, object]:
    for row in clinical.timepoints:
        if str(row.get("time_point")) == time_point:
            return dict(row)
    return {}


def current_value(case: TeachingCase, item: WhatIfInput) -> Value:
    """The case's own value of the input (NaN / "" where missing)."""
    if item.kind == "latent":
        return case.truth.latents[item.field]
    if item.kind == "dynamic":
        assert item.time_point is not None
        return _number(_row(case.clinical, item.time_point).get(item.field))
    value = case.clinical.static.get(item.field)
    return str(value) if item.low is None else _number(value)


def changed_case(case: TeachingCase, item: WhatIfInput, value: Value) -> ClinicalCase:
    """The case's form with the input set to ``value``.

    Raises:
        InvalidArgument: a dynamic input at a time point the case does not have.
    """
    static = dict(case.clinical.static)
    rows = [dict(r) for r in case.clinical.timepoints]
    if item.kind == "static":
        static[item.field] = value
    elif item.kind == "dynamic":
        match = [r for r in rows if str(r.get("time_point")) == item.time_point]
        if not match:
            raise InvalidArgument(
                f"the case has no values at {item.time_point}, so {item.label} cannot be changed"
            )
        match[0][item.field] = value
    return ClinicalCase(static, rows)


def render_study(case: TeachingCase, latents: dict[str, float]) -> Study:
    """The case's image drawn again by the phantom's renderer with ``latents``, read back as
    DICOM like an upload (our own files: no sandbox)."""
    truth = case.truth
    render = CaseRender(
        truth.seed,
        truth.case_index,
        case.case_id,
        truth.diameter_cm,
        latents["heterogeneity"],
        latents["rim"],
        latents["irregularity"],
        latents["washout"],
        latents["bpe"],
    )
    images = render.render()
    if case.image_kind == "mri":
        files = [
            RawFile(f"phase{p + 1}.dcm", data)
            for p, data in enumerate(mri_datasets(render, images.mri))
        ]
    else:
        files = [RawFile("mammogram.dcm", mammogram_dataset(render, images))]
    return read_study(files, isolate=False)


def sweep(
    explainer: Explainer,
    guard: Guard,
    case: TeachingCase,
    item: WhatIfInput,
    points: int = 21,
    progress: Callable[[int, int], None] | None = None,
) -> Sweep:
    """The model's and the truth's probabilities over the input's values.

    Raises:
        InvalidArgument: the case lacks what the input changes, or the true model lacks a
            value it needs.
    """
    started = time.perf_counter()
    truth = case.truth
    values = item.grid(case, 11 if item.kind == "latent" else points)
    base_eta = eta_of(case.clinical.static, truth.latents, truth.diameter_cm)
    predictor = explainer.predictor
    model_p, ideal_p, oracle_p, flagged = [], [], [], []
    for done, value in enumerate(values, start=1):
        clinical = changed_case(case, item, value)
        latents = dict(truth.latents)
        study = case.study
        if item.kind == "latent":
            latents[item.field] = float(value)
            study = render_study(case, latents)
        prepared = predictor.prepare(clinical, study)
        report = guard.check(study, prepared, clinical, predictor.model)
        prediction = predictor.prediction(prepared, predictor.logits(prepared))
        model_p.append([prediction.probabilities[c] for c in OUTCOMES])
        flagged.append("; ".join(report.image_reasons + report.tabular_reasons))
        eta = truth.eta + eta_of(clinical.static, latents, truth.diameter_cm) - base_eta
        try:
            ideal = ideal_observer(
                eta, truth.diameter_cm, truth.ctdna_t0, follow_ups(clinical.timepoints)
            )
        except ImpossibleObservation:
            ideal = np.full(3, np.nan)
        ideal_p.append(ideal)
        oracle_p.append(oracle(eta + truth.u))
        if progress:
            progress(done, len(values))
    return Sweep(
        item,
        tuple(values),
        current_value(case, item),
        np.array(model_p),
        np.array(ideal_p),
        np.array(oracle_p),
        tuple(flagged),
        time.perf_counter() - started,
    )
