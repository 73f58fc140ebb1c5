"""Explanations checked against the phantom's truth (``python -m mmcrnet evaluate-explanations``).

On held-out phantom cases with their tumour masks and true per-feature contributions:
- Grad-CAM / HiResCAM: pointing game (the map's maximum inside the tumour mask dilated by 5 px),
  energy inside that mask next to its area, and energy on fibroglandular tissue away from the
  tumour (where the null variable bpe enhances);
- sequence IG: the null features' share of the absolute attribution, agreement with the true
  contributions of the baseline features (per patient and global, also with correlated proxies
  summed), IG completeness, agreement with occlusion;
- sanity (Adebayo et al. 2018): cascading randomisation of the weights must change the maps.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import torch
from scipy.ndimage import binary_dilation
from scipy.stats import spearmanr
from torch import nn

from mmcrnet.data import batch_images
from mmcrnet.datasets import CaseSet
from mmcrnet.errors import InvalidArgument
from mmcrnet.explain.explanation import Explainer
from mmcrnet.explain.gradcam import CAM_METHODS, class_activation_maps, positive_part, to_original
from mmcrnet.explain.sequence import (
    ATTRIBUTED,
    Score,
    baseline_for,
    class_score,
    integrated_gradients,
    response_score,
    sequence_function,
)
from mmcrnet.features import FEATURES_BY_NAME, OUTCOMES
from mmcrnet.model import MMCRNet
from mmcrnet.phantom.cohort import ETA_TERMS, NULL_FEATURES, PhantomCohort, expected_probabilities
from mmcrnet.phantom.writer import case_renders
from mmcrnet.predict import PreparedInput
from mmcrnet.preprocess import IMAGE_SIZE, MAMMOGRAM, MRI, Geometry

DILATION_PX = 5
#: Null features that are model inputs (bpe is an image property, checked on the maps).
NULL_INPUTS: tuple[str, ...] = tuple(f for f in NULL_FEATURES if f in ATTRIBUTED)
#: Correlated proxies that may share credit (clinical measurement, its gene).
PROXY_GROUPS: tuple[tuple[str, ...], ...] = (
    ("er_percent", "esr1_expr"),
    ("ki67_percent", "mki67_expr"),
    ("her2_status", "erbb2_expr"),
)
#: Baseline features compared with the truth: every static input, the derived subtype and the
#: tumour diameter at T0 (the spec's terms use the true baseline diameter).
BASELINE_FEATURES: tuple[str, ...] = tuple(
    f for f in ATTRIBUTED if f == "subtype" or FEATURES_BY_NAME[f].timing == "static"
) + ("tumor_diameter_cm",)


def _disk(radius: int) -> np.ndarray:
    yy, xx = np.mgrid[-radius : radius + 1, -radius : radius + 1]
    return xx**2 + yy**2 <= radius**2


def true_contributions(cohort: PhantomCohort) -> np.ndarray:
    """(N, len(BASELINE_FEATURES)) true contribution of each baseline feature to eta (the sum
    of its terms minus their cohort means; 0 for features with no term)."""
    out = np.zeros((cohort.n, len(BASELINE_FEATURES)), dtype=np.float64)
    for term, _, owner in ETA_TERMS:
        if owner in BASELINE_FEATURES:
            out[:, BASELINE_FEATURES.index(owner)] += cohort.contributions[term].to_numpy()
    return out


def image_supports_prediction(cohort: PhantomCohort, predicted: np.ndarray) -> np.ndarray:
    """(N,) bool: by the phantom's truth, the case's tumour makes its predicted outcome more
    likely than a typical tumour would (its image-latent terms against their cohort means, the
    unexplained chemosensitivity integrated out).

    Where this is False the tumour's appearance argues against the prediction (the prediction
    comes from the clinical and genomic data), and a faithful map has no evidence for the
    prediction to show on the tumour; the pointing game is reported on both groups.
    """
    image_terms = [term for term, _, owner in ETA_TERMS if owner == "image"]
    eta = cohort.truth["eta"].to_numpy()
    image = cohort.contributions[image_terms].to_numpy().sum(axis=1)
    rows = np.arange(len(predicted))
    return (
        expected_probabilities(eta)[rows, predicted]
        > expected_probabilities(eta - image)[rows, predicted]
    )


def baseline_attributions(table: np.ndarray) -> np.ndarray:
    """(T, len(ATTRIBUTED)) attributions -> (len(BASELINE_FEATURES),): static features summed
    over time points, tumour diameter at T0 only."""
    out = np.array([table[:, ATTRIBUTED.index(f)].sum() for f in BASELINE_FEATURES])
    out[BASELINE_FEATURES.index("tumor_diameter_cm")] = table[
        0, ATTRIBUTED.index("tumor_diameter_cm")
    ]
    return out


def group_proxies(values: np.ndarray) -> np.ndarray:
    """(..., len(BASELINE_FEATURES)) -> (..., fewer) with each proxy group summed."""
    grouped = [tuple(group) for group in PROXY_GROUPS]
    members = {f for g in grouped for f in g}
    columns = [[BASELINE_FEATURES.index(f)] for f in BASELINE_FEATURES if f not in members]
    columns += [[BASELINE_FEATURES.index(f) for f in g] for g in grouped]
    return np.stack([values[..., c].sum(axis=-1) for c in columns], axis=-1)


def _spearman(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman correlation; 0 when either side is constant (no ranking to agree with)."""
    if np.ptp(a) == 0 or np.ptp(b) == 0:
        return 0.0
    return float(spearmanr(a, b).statistic)


@dataclass
class _MapScores:
    """Pointing game and energy of the classic (positive-part) maps, per map variant."""

    pointing: dict[str, list[bool]] = field(default_factory=dict)
    energy: dict[str, list[float]] = field(default_factory=dict)
    area: dict[str, list[float]] = field(default_factory=dict)
    empty: dict[str, list[bool]] = field(default_factory=dict)

    def add(self, key: str, signed: np.ndarray, mask: np.ndarray) -> None:
        cam = positive_part(signed)
        region = binary_dilation(mask, _disk(DILATION_PX))
        total = float(cam.sum())
        self.pointing.setdefault(key, []).append(
            bool(total > 0 and region.flat[int(np.argmax(cam))])
        )
        self.energy.setdefault(key, []).append(float(cam[region].sum()) / total if total else 0.0)
        self.area.setdefault(key, []).append(float(region.mean()))
        self.empty.setdefault(key, []).append(total == 0)

    def summary(
        self, key: str, predicted: np.ndarray, supported: np.ndarray | None = None
    ) -> dict[str, Any]:
        """Figures of one map variant; ``supported`` (N,) bool splits the pointing game by
        whether the truth says the image supports the predicted outcome."""
        pointing = np.array(self.pointing[key])
        out = {
            "pointing_game": round(float(pointing.mean()), 4),
            "energy_in_mask": round(float(np.mean(self.energy[key])), 4),
            "mask_area_fraction": round(float(np.mean(self.area[key])), 4),
            "empty_maps": int(np.sum(self.empty[key])),
            "pointing_by_predicted_outcome": {
                c: round(float(pointing[predicted == i].mean()), 4)
                for i, c in enumerate(OUTCOMES)
                if np.any(predicted == i)
            },
        }
        if supported is not None:
            out["pointing_where_image_supports_prediction"] = (
                round(float(pointing[supported].mean()), 4) if supported.any() else None
            )
            out["pointing_where_image_argues_against"] = (
                round(float(pointing[~supported].mean()), 4) if (~supported).any() else None
            )
        return out


#: Where the truth's image term counts as clearly away from typical (spec eta units).
CLEAR_IMAGE_TERM = 0.25


def image_terms(cohort: PhantomCohort) -> np.ndarray:
    """(N,) the truth's image term: the sum of the image-latent terms of eta (spec section 3),
    each minus its cohort mean. Positive: the tumour's look pushes towards pCR."""
    terms = [term for term, _, owner in ETA_TERMS if owner == "image"]
    return cohort.contributions[terms].to_numpy().sum(axis=1)


@dataclass(frozen=True)
class AxisMapScore:
    """One signed, unscaled response-axis map against the tumour (dilated mask).

    Attributes:
        located: the maximum of |map| lies inside the region.
        share: the region's share of sum |map| (0 for an all-zero map).
        mass: the signed sum of the map inside the region (its direction: > 0 towards pCR).
    """

    located: bool
    share: float
    mass: float


def axis_map_score(signed: np.ndarray, region: np.ndarray) -> AxisMapScore:
    """:class:`AxisMapScore` of a signed (H, W) map, not scaled per case, over ``region``."""
    magnitude = np.abs(signed)
    total = float(magnitude.sum())
    if total == 0:
        return AxisMapScore(False, 0.0, 0.0)
    return AxisMapScore(
        located=bool(region.flat[int(np.argmax(magnitude))]),
        share=float(magnitude[region].sum()) / total,
        mass=float(signed[region].sum()),
    )


def direction_figures(masses: np.ndarray, terms: np.ndarray) -> dict[str, Any]:
    """How the maps' signed masses follow the truth's image terms across cases: Spearman, and
    where the term is more than :data:`CLEAR_IMAGE_TERM` from its cohort mean (0: the terms are
    centred), the share of cases whose mass lies on the same side of the masses' median."""
    clear = np.abs(terms) > CLEAR_IMAGE_TERM
    side = np.sign(masses - np.median(masses)) == np.sign(terms)
    return {
        "spearman_mass_vs_image_term": round(_spearman(masses, terms), 4),
        "same_side_where_clear": round(float(side[clear].mean()), 4) if clear.any() else None,
        "clear_cases": int(clear.sum()),
    }


@dataclass
class _AxisScores:
    """Localisation and direction of the response-axis maps, per map variant."""

    scores: dict[str, list[AxisMapScore]] = field(default_factory=dict)

    def add(self, key: str, signed: np.ndarray, mask: np.ndarray) -> None:
        region = binary_dilation(mask, _disk(DILATION_PX))
        self.scores.setdefault(key, []).append(axis_map_score(signed, region))

    def summary(self, key: str, terms: np.ndarray) -> dict[str, Any]:
        rows = self.scores[key]
        return {
            "localisation": round(float(np.mean([r.located for r in rows])), 4),
            "share_in_mask": round(float(np.mean([r.share for r in rows])), 4),
            **direction_figures(np.array([r.mass for r in rows]), terms[: len(rows)]),
        }


def _prepared(cases: CaseSet, rows: np.ndarray, kind: int, device: torch.device) -> PreparedInput:
    kinds = np.full(len(rows), kind, dtype=np.int64)
    return PreparedInput(
        batch_images(cases.images, rows, kinds).to(device),
        torch.from_numpy(kinds).to(device),
        torch.from_numpy(cases.sequences.values[rows]).to(device),
        torch.from_numpy(cases.sequences.lengths[rows]).to(device),
    )


def randomisation_steps(model: MMCRNet) -> list[tuple[str, list[nn.Module]]]:
    """Cascading randomisation, top down: the fusion head, then the MRI encoder's blocks from
    the last to the first (Adebayo et al. 2018)."""
    steps: list[tuple[str, list[nn.Module]]] = [("fusion head", [model.fusion])]
    blocks = list(model.mri_encoder.blocks)
    for index in range(len(blocks) - 1, -1, -1):
        steps.append((f"mri_encoder.blocks.{index}", [blocks[index]]))
    return steps


def sanity_check(
    explainer: Explainer, cases: CaseSet, rows: np.ndarray, seed: int = 0
) -> list[dict[str, Any]]:
    """Median Spearman correlation (per case, over pixels) between the original Grad-CAM maps
    and those of the model with its weights randomised cumulatively from the top."""
    model = copy.deepcopy(explainer.predictor.model).eval()
    device = explainer.predictor.device
    score = response_score(explainer.predictor.temperature)

    def maps(current: MMCRNet) -> dict[str, np.ndarray]:
        return _layer_maps(current, _prepared(cases, rows, MRI, device), MRI, score)

    original = maps(model)
    generator = torch.Generator().manual_seed(seed)
    out = []
    for name, modules in randomisation_steps(model):
        for module in modules:
            for sub in module.modules():
                if isinstance(sub, nn.Conv2d | nn.Linear):
                    with torch.no_grad():
                        noise = torch.randn(sub.weight.shape, generator=generator)
                        sub.weight.copy_((noise * sub.weight.std().item()).to(sub.weight))
                        if sub.bias is not None:
                            sub.bias.zero_()
        randomised = maps(model)
        row: dict[str, Any] = {"randomised_through": name}
        for method in CAM_METHODS:
            correlations = [
                _spearman(a.ravel(), b.ravel())
                for a, b in zip(original[method], randomised[method])
            ]
            row[method] = round(float(np.median(correlations)), 4)
        out.append(row)
    return out


@dataclass(frozen=True)
class ExplanationReport:
    """Every figure of ``evaluate-explanations`` (see :func:`evaluate_explanations`)."""

    n: int
    test: str
    image_maps: dict[str, Any]
    sequence: dict[str, Any]
    truth_agreement: dict[str, Any]
    sanity: list[dict[str, Any]]
    targets: dict[str, Any]
    passed: bool

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _layer_maps(
    model: MMCRNet, prepared: PreparedInput, kind: int, score: Score
) -> dict[str, np.ndarray]:
    """Signed maps (B, h, w) of a batch of one image kind at the target layer's resolution."""
    with torch.no_grad():
        embedding = model.sequence_branch(prepared.sequence, prepared.length)
    return class_activation_maps(model, prepared.image, kind, embedding, score).maps


def _maps(
    model: MMCRNet, prepared: PreparedInput, kind: int, score: Score, shape: tuple[int, int]
) -> dict[str, np.ndarray]:
    """One case's maps over its original image (H, W), scaled to [-1, 1]."""
    cams = _layer_maps(model, prepared, kind, score)
    geometry = Geometry(shape[0], shape[1], IMAGE_SIZE)
    return {m: to_original(cams[m][0], geometry) for m in CAM_METHODS}


def _unscaled_maps(
    model: MMCRNet, prepared: PreparedInput, kind: int, score: Score, shape: tuple[int, int]
) -> dict[str, np.ndarray]:
    """One case's signed maps over its original image (H, W), not scaled: their masses compare
    across cases."""
    cams = _layer_maps(model, prepared, kind, score)
    geometry = Geometry(shape[0], shape[1], IMAGE_SIZE)
    return {m: geometry.inverse(cams[m][0]) for m in CAM_METHODS}


def evaluate_explanations(
    explainer: Explainer,
    cases: CaseSet,
    cohort: PhantomCohort,
    sanity_cases: int = 50,
    progress: Callable[[int, int], None] | None = None,
) -> ExplanationReport:
    """Check the explanations of ``cases`` (a phantom CaseSet; MRI and full sequences) against
    ``cohort``'s truth (the same cases, same order).

    Maps are scored as the classic (positive-part) maps for the predicted outcome, which is what
    the explanation shows, and also along the response axis (log P(pCR) - log P(none)).
    """
    device = explainer.predictor.device
    model = explainer.predictor.model.eval()
    if not (model.config.uses_image and model.config.uses_sequence):
        raise InvalidArgument(
            f"evaluate-explanations needs a model that reads images and sequences, "
            f"not the {model.config.variant} variant"
        )
    temperature = explainer.predictor.temperature
    null_columns = [ATTRIBUTED.index(f) for f in NULL_INPUTS]
    truth = true_contributions(cohort)
    renders = case_renders(cohort)
    scores = _MapScores()
    axis_scores = _AxisScores()
    fg_energy, fg_area = [], []
    predicted = []
    null_abs = {"predicted": 0.0, "response": 0.0}
    total_abs = {"predicted": 0.0, "response": 0.0}
    deltas: list[float] = []
    ig_vs_occlusion: list[float] = []
    attributions: dict[str, list[np.ndarray]] = {"reference": [], "zeros": []}
    for i in range(cases.n):
        rows = np.array([i])
        picture = renders[i].render()
        shape = picture.mri_mask.shape
        prepared = _prepared(cases, rows, MRI, device)
        explanation = explainer.explain_prepared(prepared, shape)
        target = OUTCOMES.index(explanation.target)
        predicted.append(target)
        assert explanation.image is not None and explanation.sequence is not None

        # Image maps: the explanation's (predicted outcome), the response axis, the mammogram.
        for method, cam in explanation.image.maps.items():
            scores.add(f"mri/{method}", cam, picture.mri_mask)
        axis = _unscaled_maps(model, prepared, MRI, response_score(temperature), shape)
        for method, cam in axis.items():
            axis_scores.add(f"mri/{method}", cam, picture.mri_mask)
        mammogram = _prepared(cases, rows, MAMMOGRAM, device)
        mammogram_axis = _unscaled_maps(
            model, mammogram, MAMMOGRAM, response_score(temperature), picture.mammogram_mask.shape
        )
        for method, cam in mammogram_axis.items():
            axis_scores.add(f"mammogram/{method}", cam, picture.mammogram_mask)
        for method, cam in _maps(
            model,
            mammogram,
            MAMMOGRAM,
            class_score(target, temperature),
            picture.mammogram_mask.shape,
        ).items():
            scores.add(f"mammogram/{method}", cam, picture.mammogram_mask)
        gradcam = positive_part(explanation.image.maps["gradcam"])
        away = (picture.mri_fibroglandular > 0.5) & ~binary_dilation(
            picture.mri_mask, _disk(DILATION_PX)
        )
        fg_energy.append(float(gradcam[away].sum() / gradcam.sum()) if gradcam.sum() else 0.0)
        fg_area.append(float(away.mean()))

        # Sequence: what the explanation shows (predicted outcome, reference baseline).
        table = explanation.sequence.integrated_gradients
        null_abs["predicted"] += float(np.abs(table[:, null_columns]).sum())
        total_abs["predicted"] += float(np.abs(table).sum())
        deltas.append(explanation.sequence.relative_delta)
        ig_vs_occlusion.append(_spearman(table.ravel(), explanation.sequence.occlusion.ravel()))

        # Truth agreement: the response axis, the model's counterpart of eta.
        with torch.no_grad():
            image_embedding = model.image_branch(prepared.image, prepared.kind)
        forward = sequence_function(
            model, image_embedding, prepared.kind, prepared.length, response_score(temperature)
        )
        length = int(prepared.length[0])
        for name, reference in (("reference", explainer.reference), ("zeros", None)):
            base = baseline_for(prepared.sequence[0].cpu().numpy(), length, reference)
            result = integrated_gradients(
                forward,
                prepared.sequence,
                torch.from_numpy(base)[None].to(device),
                length,
                explainer.steps,
            )
            attributions[name].append(baseline_attributions(result.attributions))
            if name == "reference":
                null_abs["response"] += float(np.abs(result.attributions[:, null_columns]).sum())
                total_abs["response"] += float(np.abs(result.attributions).sum())
        if progress:
            progress(i + 1, cases.n)

    predicted_np = np.array(predicted)
    supported = image_supports_prediction(cohort, predicted_np)
    most_likely = expected_probabilities(cohort.truth["eta"].to_numpy()).argmax(axis=1)
    image_maps: dict[str, Any] = {
        "dilation_px": DILATION_PX,
        "scored": "positive part of each map (the classic CAM)",
        "image_supports_prediction_fraction": round(float(supported.mean()), 4),
        # the same with the truth's most likely outcome in place of the model's prediction
        "image_supports_most_likely_outcome_fraction": round(
            float(image_supports_prediction(cohort, most_likely).mean()), 4
        ),
    }
    for key in scores.pointing:
        image_maps[key] = scores.summary(key, predicted_np, supported)
    terms = image_terms(cohort)
    image_maps["response_axis"] = {
        "score": "log P(pCR) - log P(none), signed maps, not scaled per case",
        "image_term": "sum of the truth's image-latent terms of eta, centred",
        **{key: axis_scores.summary(key, terms) for key in axis_scores.scores},
    }
    bpe = cohort.truth["bpe"].to_numpy()
    image_maps["mri/gradcam"]["fibroglandular_away_from_tumour"] = {
        "energy": round(float(np.mean(fg_energy)), 4),
        "area_fraction": round(float(np.mean(fg_area)), 4),
        "spearman_energy_vs_bpe": round(_spearman(bpe, np.array(fg_energy)), 4),
    }

    sequence_figures: dict[str, Any] = {
        "null_features": list(NULL_INPUTS),
        "null_share": {
            k: round(null_abs[k] / total_abs[k], 4) if total_abs[k] else 0.0 for k in null_abs
        },
        "ig_relative_delta_median": round(float(np.median(deltas)), 6),
        "ig_relative_delta_p95": round(float(np.percentile(deltas, 95)), 6),
        "ig_vs_occlusion_spearman_median": round(float(np.median(ig_vs_occlusion)), 4),
        "steps": explainer.steps,
    }

    agreement: dict[str, Any] = {
        "features": list(BASELINE_FEATURES),
        "proxy_groups": [list(g) for g in PROXY_GROUPS],
        "score": "log P(pCR) - log P(none), the model's eta",
    }
    for name, values in attributions.items():
        agreement[f"baseline={name}"] = _agreement(np.array(values), truth)

    sanity = sanity_check(explainer, cases, np.arange(min(sanity_cases, cases.n)))
    reference = agreement["baseline=reference"]
    encoder_randomised = [row for row in sanity if row["randomised_through"].endswith("blocks.0")]
    axis_mri, axis_mg = (
        image_maps["response_axis"]["mri/gradcam"],
        image_maps["response_axis"]["mammogram/gradcam"],
    )
    supported_pointing = image_maps["mri/gradcam"]["pointing_where_image_supports_prediction"]
    targets = {
        "MRI localisation >= 0.95": axis_mri["localisation"] >= 0.95,
        "mammogram localisation >= 0.80": axis_mg["localisation"] >= 0.80,
        "MRI |map| share in the mask >= 0.5": axis_mri["share_in_mask"] >= 0.5,
        "mammogram |map| share in the mask >= 0.4": axis_mg["share_in_mask"] >= 0.4,
        "MRI direction Spearman >= 0.75": axis_mri["spearman_mass_vs_image_term"] >= 0.75,
        "mammogram direction Spearman >= 0.5": axis_mg["spearman_mass_vs_image_term"] >= 0.5,
        "MRI same side where the image term is clear >= 0.80": (
            axis_mri["same_side_where_clear"] or 0.0
        )
        >= 0.80,
        "pointing where the image supports the prediction >= 0.9": (supported_pointing or 0.0)
        >= 0.9,
        "null_share <= 0.03": sequence_figures["null_share"]["predicted"] <= 0.03,
        "per-patient Spearman with the truth >= 0.75": reference["spearman_median"] >= 0.75,
        "sanity: correlation <= 0.3 once the encoder is randomised": all(
            abs(row["gradcam"]) <= 0.3 for row in encoder_randomised
        ),
        "ig_relative_delta_median <= 0.01": sequence_figures["ig_relative_delta_median"] <= 0.01,
    }
    return ExplanationReport(
        cases.n,
        cases.description,
        image_maps,
        sequence_figures,
        agreement,
        sanity,
        targets,
        all(targets.values()),
    )


def _agreement(attributions: np.ndarray, truth: np.ndarray) -> dict[str, Any]:
    """Per-patient and global agreement of (N, features) attributions with the truth."""
    per_patient = [_spearman(a, t) for a, t in zip(attributions, truth)]
    grouped, grouped_truth = group_proxies(attributions), group_proxies(truth)
    per_patient_grouped = [_spearman(a, t) for a, t in zip(grouped, grouped_truth)]
    importance, true_importance = np.abs(attributions).mean(0), np.abs(truth).mean(0)
    return {
        "spearman_median": round(float(np.median(per_patient)), 4),
        "spearman_median_grouped": round(float(np.median(per_patient_grouped)), 4),
        "global_ranking_spearman": round(_spearman(importance, true_importance), 4),
        "global_ranking_spearman_grouped": round(
            _spearman(np.abs(grouped).mean(0), np.abs(grouped_truth).mean(0)), 4
        ),
        "top_features_model": [BASELINE_FEATURES[j] for j in np.argsort(-importance)[:10]],
        "top_features_truth": [BASELINE_FEATURES[j] for j in np.argsort(-true_importance)[:10]],
        # mean |attribution| per feature (log-odds of the response axis), model and truth
        "global_importance": {
            name: {"model": round(float(m), 5), "truth": round(float(t), 5)}
            for name, m, t in zip(BASELINE_FEATURES, importance, true_importance)
        },
    }


def format_explanation_report(result: dict) -> str:
    """The explanation check as plain text."""
    maps = result["image_maps"]
    lines = [
        f"test set: {result['test']} (n={result['n']})",
        "image maps (classic, positive "
        f"part; tumour mask dilated by {maps['dilation_px']} px); by the truth the image "
        f"supports the predicted outcome in {maps['image_supports_prediction_fraction']:.3f} "
        "of the cases:",
    ]
    for key, row in maps.items():
        if key == "response_axis":
            continue
        if isinstance(row, dict):
            lines.append(
                f"  {key:<32} pointing {row['pointing_game']:.3f}  energy "
                f"{row['energy_in_mask']:.3f} (mask area {row['mask_area_fraction']:.3f})"
                f"  empty {row['empty_maps']}"
            )
            if row.get("pointing_where_image_supports_prediction") is not None:
                against = row["pointing_where_image_argues_against"] or 0.0
                lines.append(
                    f"  {'':<32} pointing where the image supports the prediction "
                    f"{row['pointing_where_image_supports_prediction']:.3f}, where it "
                    f"argues against {against:.3f}"
                )
    axis = maps.get("response_axis", {})
    lines.append(
        "response-axis maps (log P(pCR) - log P(none), signed, unscaled) against the truth's "
        "image term:"
    )
    for key, row in axis.items():
        if isinstance(row, dict):
            same = row["same_side_where_clear"]
            lines.append(
                f"  {key:<32} localisation {row['localisation']:.3f}  |map| share "
                f"{row['share_in_mask']:.3f}  direction Spearman "
                f"{row['spearman_mass_vs_image_term']:+.3f}  same side "
                f"{'-' if same is None else f'{same:.3f}'} (n={row['clear_cases']})"
            )
    seq = result["sequence"]
    lines.append(
        f"null features' share of |IG|: {seq['null_share']['predicted']:.3f} "
        f"(response axis {seq['null_share']['response']:.3f}); IG relative delta median "
        f"{seq['ig_relative_delta_median']:.2e}; IG vs occlusion Spearman "
        f"{seq['ig_vs_occlusion_spearman_median']:.3f}"
    )
    for key, row in result["truth_agreement"].items():
        if key.startswith("baseline="):
            lines.append(
                f"truth agreement ({key}): per-patient Spearman median "
                f"{row['spearman_median']:.3f} (proxies summed "
                f"{row['spearman_median_grouped']:.3f}); global ranking "
                f"{row['global_ranking_spearman']:.3f}"
            )
    lines.append(
        "sanity (cascading randomisation, median Spearman with the original map): "
        + "; ".join(f"{r['randomised_through']} {r['gradcam']:+.2f}" for r in result["sanity"])
    )
    lines += [f"  [{'pass' if ok else 'FAIL'}] {name}" for name, ok in result["targets"].items()]
    return "\n".join(lines)
