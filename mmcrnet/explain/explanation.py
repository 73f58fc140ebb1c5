"""One case's prediction with all its reasons, as one typed, serialisable result.

case -> Predictor.prepare -> image embedding + sequence embedding (once)
     -> Grad-CAM / HiResCAM over the image         (gradcam.py)
     -> IG + occlusion over the sequence            (sequence.py)
     -> Shapley values of the three modalities      (modalities.py)
     -> the prediction with 1, 2, ... time points   (trajectory)
     -> Explanation (the app, the CLI and reports share it)
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from mmcrnet.checkpoint import InvalidModel
from mmcrnet.data import WEEK_SCALE
from mmcrnet.errors import InvalidCase
from mmcrnet.explain.gradcam import (
    CAM_METHODS,
    class_activation_maps,
    image_activations,
    target_layer,
    to_original,
)
from mmcrnet.explain.modalities import MODALITIES, ModalityAttribution, modality_shapley
from mmcrnet.explain.sequence import (
    ATTRIBUTED,
    baseline_for,
    class_score,
    encode_reference,
    integrated_gradients,
    occlusion,
    response_score,
    sequence_function,
)
from mmcrnet.features import FEATURES_BY_NAME, OUTCOMES, SUBTYPES, TIME_POINTS, Feature, subtype_of
from mmcrnet.io import Study
from mmcrnet.metrics import softmax
from mmcrnet.predict import ClinicalCase, Prediction, Predictor, PreparedInput
from mmcrnet.preprocess import (
    IMAGE_KINDS,
    IMAGE_SIZE,
    MRI_ROLES,
    NO_IMAGE,
    Geometry,
    ModelPhase,
)

BASELINE_TEXT = (
    "the training cohort's reference patient (the mean of every input over the "
    "training cases, per time point); features the case lacks keep their missing "
    "encoding and get no attribution"
)
SCORE_TEXT = "log-odds of the target outcome after calibration, log(p / (1 - p))"


def feature_label(name: str) -> str:
    """What a clinician reads for a feature name (the schema's label)."""
    if name == "subtype":
        return "Subtype (from ER, PR and HER2)"
    return FEATURES_BY_NAME[name].label


@dataclass(frozen=True)
class ImageExplanation:
    """Class activation maps over the original image.

    Attributes:
        kind: "mri" or "mammogram"; channels: what the maps are drawn over, in words from the
            data (each DCE phase's role and what the study says of it, or the mammogram).
        layer: the module whose activations the maps weigh.
        maps: method (:data:`CAM_METHODS`) -> (H, W) float32 in [-1, 1] at the original image's
            size, signed: positive where the region pushes towards the target, negative away
            (the classic map is the positive part).
        geometry: how the original image became the model input (the maps came back by its
            inverse); phases: the study phases explained (empty for batches built elsewhere).
        axis_maps: method -> (H, W) in [-1, 1] on the response axis, log P(pCR) - log P(none):
            positive where the region pushes towards pCR, negative towards no response, whatever
            the target (what the app shows first).
    """

    kind: str
    channels: tuple[str, ...]
    layer: str
    maps: dict[str, np.ndarray]
    geometry: Geometry
    phases: tuple[ModelPhase, ...] = ()
    axis_maps: dict[str, np.ndarray] = field(default_factory=dict)


@dataclass(frozen=True)
class Statement:
    """One line of the reasons: "ctDNA tumour fraction at week 3: towards pCR"."""

    feature: str
    label: str
    time_point: str | None  # None for a static feature (summed over time points)
    week: float | None
    value: float  # signed IG attribution (log-odds of the target)
    text: str


@dataclass(frozen=True)
class SequenceExplanation:
    """Attributions of every clinical and genomic feature at every observed time point.

    Attributes:
        time_points: observed, e.g. ("T0", "T1"); weeks: their weeks.
        features: :data:`ATTRIBUTED` (schema features and the derived subtype).
        integrated_gradients, occlusion: (time points, features), signed; positive = towards
            the target outcome. IG sums (up to ``delta``) to ``score - baseline_score``.
        baseline: what the baseline is; score: the target's log-odds for the case.
        values: (time points, features) the case's values as the user entered them, with
            their unit ("3.4 cm"; "" where missing), for reasons in words.
    """

    time_points: tuple[str, ...]
    weeks: tuple[float, ...]
    features: tuple[str, ...]
    integrated_gradients: np.ndarray
    occlusion: np.ndarray
    baseline: str
    score: float
    baseline_score: float
    delta: float
    relative_delta: float
    steps: int
    values: tuple[tuple[str, ...], ...] = ()

    def totals(self, method: str = "integrated_gradients") -> dict[str, float]:
        """Per-feature attribution summed over time points (signed)."""
        table = getattr(self, method)
        return {f: float(v) for f, v in zip(self.features, table.sum(axis=0))}


@dataclass(frozen=True)
class Explanation:
    """A prediction and its reasons for one target outcome (the predicted one by default).

    Attributes:
        prediction: the calibrated prediction.
        target: the outcome explained; score: what the attributions explain.
        image: maps over the image, or None without an image (or for a model without one).
        sequence: feature attributions, or None for an image-only model.
        modalities: Shapley values of image, clinical and genomic data.
        trajectory: calibrated probabilities with the first 1, 2, ... observed time points.
        timings_ms: step -> milliseconds.
    """

    prediction: Prediction
    target: str
    score: str
    image: ImageExplanation | None
    sequence: SequenceExplanation | None
    modalities: ModalityAttribution
    trajectory: list[dict[str, str | float]]
    timings_ms: dict[str, float] = field(default_factory=dict)

    def image_story(self) -> str | None:
        """A sentence when the response-axis map and the image's Shapley value point opposite
        ways for this case (they compare with different references), else None."""
        if self.image is None or not self.image.axis_maps:
            return None
        net = float(self.image.axis_maps["gradcam"].sum())
        image = list(MODALITIES).index("image")
        shapley = self.modalities.shapley[image]
        towards_pcr = float(shapley[OUTCOMES.index("pCR")] - shapley[OUTCOMES.index("none")])
        if net == 0 or towards_pcr == 0 or (net > 0) == (towards_pcr > 0):
            return None
        map_way, value_way = ("pCR", "no response") if net > 0 else ("no response", "pCR")
        return (
            f"For this case the map leans towards {map_way} while the image's contribution "
            f"leans towards {value_way}: the map compares with an image in which the model "
            "detects none of its patterns, the contribution with having no image at all (the "
            "cohort's average image effect)."
        )

    def statements(self, k: int = 8) -> list[Statement]:
        """The ``k`` largest reasons in words: static features summed over time, dynamic
        features per time point; ordered by absolute size."""
        if self.sequence is None:
            return []
        seq = self.sequence
        items: list[tuple[str, str | None, float | None, float]] = []
        for j, name in enumerate(seq.features):
            dynamic = name in FEATURES_BY_NAME and FEATURES_BY_NAME[name].timing == "dynamic"
            if dynamic:
                items += [
                    (name, tp, week, float(seq.integrated_gradients[t, j]))
                    for t, (tp, week) in enumerate(zip(seq.time_points, seq.weeks))
                ]
            else:
                items.append((name, None, None, float(seq.integrated_gradients[:, j].sum())))
        items = [item for item in items if item[3] != 0.0]  # no effect is not a reason
        items.sort(key=lambda item: -abs(item[3]))
        out = []
        for name, tp, week, value in items[:k]:
            where = "" if tp is None else f" at week {week:g}"
            direction = "towards" if value > 0 else "away from"
            shown = self._shown(name, tp)
            said = (
                f"Subtype{shown} (from ER, PR and HER2)"
                if name == "subtype"
                else f"{feature_label(name)}{shown}"
            )
            out.append(
                Statement(
                    name,
                    feature_label(name),
                    tp,
                    week,
                    value,
                    f"{said}{where}: {direction} {self.target}",
                )
            )
        return out

    def _shown(self, name: str, time_point: str | None) -> str:
        """ " 3.4 cm": the case's value of a feature (at a time point, else at the first)."""
        seq = self.sequence
        if seq is None or not seq.values:
            return ""
        row = seq.time_points.index(time_point) if time_point in seq.time_points else 0
        text = seq.values[row][seq.features.index(name)]
        return f" {text}" if text else ""

    def to_dict(self, include_maps: bool = True) -> dict[str, Any]:
        """Plain JSON-ready data (maps as nested lists rounded to 4 decimals)."""
        out: dict[str, Any] = {
            "prediction": self.prediction.to_dict(),
            "target": self.target,
            "score": self.score,
            "trajectory": self.trajectory,
            "timings_ms": self.timings_ms,
        }
        if self.image is not None:
            image: dict[str, Any] = {
                "kind": self.image.kind,
                "channels": list(self.image.channels),
                "phases": [
                    {"role": p.role, "index": p.index, "label": p.label, "time_s": p.time_s}
                    for p in self.image.phases
                ],
                "geometry": self.image.geometry.to_dict(),
                "layer": self.image.layer,
                "shape": list(next(iter(self.image.maps.values())).shape),
            }
            if include_maps:
                image["maps"] = {m: np.round(a, 4).tolist() for m, a in self.image.maps.items()}
                image["axis_maps"] = {
                    m: np.round(a, 4).tolist() for m, a in self.image.axis_maps.items()
                }
            out["image"] = image
        else:
            out["image"] = None
        if self.sequence is not None:
            seq = self.sequence
            out["sequence"] = {
                "time_points": list(seq.time_points),
                "weeks": list(seq.weeks),
                "features": list(seq.features),
                "labels": [feature_label(f) for f in seq.features],
                "integrated_gradients": np.round(seq.integrated_gradients, 6).tolist(),
                "occlusion": np.round(seq.occlusion, 6).tolist(),
                "totals": {f: round(v, 6) for f, v in seq.totals().items()},
                "baseline": seq.baseline,
                "score": seq.score,
                "baseline_score": seq.baseline_score,
                "delta": seq.delta,
                "relative_delta": seq.relative_delta,
                "steps": seq.steps,
                "statements": [s.text for s in self.statements()],
            }
        else:
            out["sequence"] = None
        mod = self.modalities
        out["modalities"] = {
            "shapley": {
                m: dict(zip(OUTCOMES, map(float, mod.shapley[i]))) for i, m in enumerate(MODALITIES)
            },
            "nothing": dict(zip(OUTCOMES, map(float, mod.nothing))),
            "everything": dict(zip(OUTCOMES, map(float, mod.everything))),
            "available": mod.available,
        }
        return out


class Explainer:
    """Explains cases with a loaded model (one per server, like the Predictor it wraps).

    Raises:
        InvalidModel: the model card has no reference patient (models trained before
            explanations existed must be retrained or have it added).
    """

    def __init__(self, predictor: Predictor, steps: int = 64) -> None:
        self.predictor = predictor
        self.steps = steps
        config = predictor.model.config
        reference = predictor.card.get("reference_patient")
        if not reference and config.uses_sequence:
            raise InvalidModel(
                f"model card of '{predictor.name}' has no reference_patient "
                f"(the baseline of sequence attributions)"
            )
        try:
            self.reference = encode_reference(reference) if reference else None
        except ValueError as exc:
            raise InvalidModel(f"model '{predictor.name}': {exc}") from None

    def explain(
        self,
        clinical: ClinicalCase,
        study: Study | None = None,
        target: str | None = None,
        prepared: PreparedInput | None = None,
    ) -> Explanation:
        """Predict and explain one case (``prepared``: the case already prepared).

        Raises:
            InvalidCase: a bad clinical value, or ``target`` is not an outcome;
            UnsupportedImage: an image the model cannot read.
        """
        prepared = prepared or self.predictor.prepare(clinical, study)
        given = {str(row["time_point"]) for row in clinical.timepoints}
        observed = tuple(tp for tp in TIME_POINTS if tp in given)
        return self.explain_prepared(
            prepared, None, target, observed, shown_values(clinical, observed)
        )

    def explain_prepared(
        self,
        prepared: PreparedInput,
        image_shape: tuple[int, int] | None,
        target: str | None = None,
        time_points: tuple[str, ...] | None = None,
        values: tuple[tuple[str, ...], ...] = (),
    ) -> Explanation:
        """Explain an already prepared case.

        Args:
            image_shape: the original image's (H, W) when ``prepared`` does not record how its
                image was made (None: the model input's size).
            time_points: the labels of the sequence's rows (default T0, T1, ...: no gaps).
            values: the case's values in words per time point and feature (for reasons).
        """
        if target is not None and target not in OUTCOMES:
            raise InvalidCase(f"target '{target}' is not one of {', '.join(OUTCOMES)}")
        model, temperature = self.predictor.model, self.predictor.temperature
        model.eval()
        timings: dict[str, float] = {}
        started = time.perf_counter()
        kind = int(prepared.kind[0])
        activations = None  # the maps' layer, computed once for the prediction and both maps
        with torch.no_grad():
            if kind != NO_IMAGE and model.config.uses_image:
                activations = image_activations(model, prepared.image, kind)
                image_embedding = model.encoder(kind).embed(activations)  # as image_branch
            else:
                image_embedding = model.image_branch(prepared.image, prepared.kind)  # (1, E)
            sequence_embedding = model.sequence_branch(prepared.sequence, prepared.length)
            logits = model.head(image_embedding, prepared.kind, sequence_embedding)  # (1, 3)
        prediction = self.predictor.prediction(prepared, logits.float().cpu().numpy())
        target = target or prediction.label
        score = class_score(OUTCOMES.index(target), temperature)
        timings["predict"] = _ms(started)

        image = None
        if activations is not None:
            started = time.perf_counter()
            cams = class_activation_maps(
                model, prepared.image, kind, sequence_embedding, score, activations
            )
            axis = class_activation_maps(
                model,
                prepared.image,
                kind,
                sequence_embedding,
                response_score(temperature),
                activations,
            )
            read = prepared.image_input
            if read is not None:
                geometry, channels = read.geometry, tuple(p.caption for p in read.phases)
            else:
                height, width = image_shape or (IMAGE_SIZE, IMAGE_SIZE)
                geometry = Geometry(int(height), int(width), IMAGE_SIZE)
                channels = MRI_ROLES if IMAGE_KINDS[kind] == "mri" else ("mammogram",)
            layer = target_layer(model, kind)
            layer_name = next(n for n, m in model.named_modules() if m is layer)
            image = ImageExplanation(
                IMAGE_KINDS[kind],
                channels,
                layer_name,
                {m: to_original(cams.maps[m][0], geometry) for m in CAM_METHODS},
                geometry,
                read.phases if read is not None else (),
                {m: to_original(axis.maps[m][0], geometry) for m in CAM_METHODS},
            )
            timings["image_maps"] = _ms(started)

        length = int(prepared.length[0])
        labels = time_points or TIME_POINTS[:length]
        sequence = None
        if model.config.uses_sequence:
            started = time.perf_counter()
            base = baseline_for(
                prepared.sequence[0].cpu().numpy(),
                length,
                self.reference,
                [TIME_POINTS.index(tp) for tp in labels],
            )
            baseline = torch.from_numpy(base)[None].to(prepared.sequence.device)
            forward = sequence_function(
                model, image_embedding, prepared.kind, prepared.length, score
            )
            ig = integrated_gradients(forward, prepared.sequence, baseline, length, self.steps)
            timings["integrated_gradients"] = _ms(started)
            started = time.perf_counter()
            occluded = occlusion(forward, prepared.sequence, baseline, length)
            timings["occlusion"] = _ms(started)
            weeks = tuple(
                round(float(w) * WEEK_SCALE, 2)
                for w in prepared.sequence[0, :length, -1].cpu().numpy()
            )
            sequence = SequenceExplanation(
                tuple(labels),
                weeks,
                ATTRIBUTED,
                ig.attributions,
                occluded,
                BASELINE_TEXT,
                ig.score,
                ig.baseline_score,
                ig.delta,
                ig.relative_delta,
                self.steps,
                values,
            )

        started = time.perf_counter()
        modalities = modality_shapley(
            model, image_embedding, prepared.kind, prepared.sequence, prepared.length, temperature
        )
        timings["modalities"] = _ms(started)
        started = time.perf_counter()
        trajectory = self._trajectory(prepared, image_embedding, labels)
        timings["trajectory"] = _ms(started)
        timings["total"] = round(sum(timings.values()), 2)
        return Explanation(
            prediction, target, SCORE_TEXT, image, sequence, modalities, trajectory, timings
        )

    @torch.no_grad()
    def _trajectory(
        self, prepared: PreparedInput, image_embedding: torch.Tensor, labels: tuple[str, ...]
    ) -> list[dict[str, str | float]]:
        """Calibrated probabilities using the first 1..length time points (one LSTM pass; the
        model never reads past a length, so the same sequence serves every prefix)."""
        model = self.predictor.model
        length = int(prepared.length[0])
        steps = torch.arange(1, length + 1, device=prepared.length.device)  # (L,)
        embedding = model.sequence_branch(prepared.sequence.expand(length, -1, -1), steps)
        logits = model.head(
            image_embedding.expand(length, -1), prepared.kind.expand(length), embedding
        )  # (L, 3)
        probabilities = softmax(logits.float().cpu().numpy(), self.predictor.temperature)
        return [
            {"time_point": labels[i], **dict(zip(OUTCOMES, map(float, p)))}
            for i, p in enumerate(probabilities)
        ]


def shown_values(
    clinical: ClinicalCase, time_points: tuple[str, ...]
) -> tuple[tuple[str, ...], ...]:
    """(time points, :data:`ATTRIBUTED`) the case's values in words with their unit ("3.4 cm",
    "positive", "yes"; "" where missing); static values repeat on every row."""
    rows = {str(r.get("time_point")): r for r in clinical.timepoints}
    static = {
        name: _in_words(FEATURES_BY_NAME[name], value)
        for name, value in clinical.static.items()
        if name in FEATURES_BY_NAME
    }
    codes = {
        n: FEATURES_BY_NAME[n].parse(clinical.static.get(n))
        for n in ("er_percent", "pr_percent", "her2_status")
    }
    subtype = int(
        subtype_of(
            np.array([codes["er_percent"]]),
            np.array([codes["pr_percent"]]),
            np.array([codes["her2_status"]]),
        )[0]
    )
    out = []
    for tp in time_points:
        row = rows.get(tp, {})
        out.append(
            tuple(
                (SUBTYPES[subtype] if subtype >= 0 else "")
                if name == "subtype"
                else _in_words(FEATURES_BY_NAME[name], row.get(name))
                if FEATURES_BY_NAME[name].timing == "dynamic"
                else static.get(name, "")
                for name in ATTRIBUTED
            )
        )
    return tuple(out)


def _in_words(spec: Feature, value: object) -> str:
    code = spec.parse(value)
    if np.isnan(code):
        return ""
    if spec.kind == "binary":
        return ("no", "yes")[int(code)]
    text = spec.format(code)
    if spec.kind == "numeric" and spec.unit and spec.unit != "z":
        return f"{text} {spec.unit}" if spec.unit != "%" else f"{text} %"
    return f"(z = {code:.2f})" if spec.unit == "z" else text


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000.0, 2)
