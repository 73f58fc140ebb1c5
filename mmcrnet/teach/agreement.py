"""The model's reasons for one phantom case beside the truth's, feature by feature, with the
agreement figure ``evaluate-explanations`` uses and a sentence wherever they disagree.

    prepared case -> IG on the response axis (the model's counterpart of eta)
                  -> per baseline feature, beside the true contributions
                  -> shares of each side's total push, Spearman rho, sentences

The model's attributions are in log-odds (log P(pCR) - log P(none)), the truth's in eta units,
so each side is shown as signed shares of its own total push: the same axis, a fair comparison.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import torch

from mmcrnet.explain.evaluate import (
    BASELINE_FEATURES,
    _spearman,
    baseline_attributions,
)
from mmcrnet.explain.explanation import Explainer, Explanation, feature_label
from mmcrnet.explain.modalities import MODALITIES
from mmcrnet.explain.sequence import (
    ATTRIBUTED,
    baseline_for,
    integrated_gradients,
    response_score,
    sequence_function,
)
from mmcrnet.features import FEATURES_BY_NAME, OUTCOMES, column_codes, subtype_of
from mmcrnet.phantom.cohort import ETA_TERMS, NULL_FEATURES, generate_cohort
from mmcrnet.predict import PreparedInput
from mmcrnet.teach.truth import CaseTruth

#: Shares below this are "no credit"; differences above DISAGREE are worth a sentence.
SMALL, DISAGREE = 0.03, 0.10
#: Correlation above which two inputs can stand in for each other.
CORRELATED = 0.3
CORRELATION_COHORT = (4000, 20261201)  # (n, seed) of the phantom the correlations come from
TOP = 5


@dataclass(frozen=True)
class FeatureAgreement:
    """One baseline feature: the model's attribution and the truth's contribution.

    Attributes:
        model, truth: raw values (log-odds on the response axis; eta units); model_share,
            truth_share: signed shares of each side's total absolute push.
        value: the case's value in words ("" where missing).
    """

    feature: str
    label: str
    value: str
    model: float
    truth: float
    model_share: float
    truth_share: float


@dataclass(frozen=True)
class CaseAgreement:
    """The model's reasons against the truth for one case.

    Attributes:
        rows: every baseline feature, the truth's largest first.
        spearman: rank agreement of the raw values over the baseline features (per-patient
            rho, as in ``evaluate-explanations``); top_overlap: how many of the truth's
            :data:`TOP` features are among the model's.
        sentences: where the two disagree, why (largest disagreements first).
        image: the image in both (truth's image term vs the model's image contribution).
        follow_up: the follow-up values in both (the model's attribution to them vs u).
    """

    rows: tuple[FeatureAgreement, ...]
    spearman: float
    top_overlap: int
    sentences: tuple[str, ...]
    image: str
    follow_up: str

    @property
    def summary(self) -> str:
        return (
            f"Agreement with the truth: Spearman rho {self.spearman:+.2f} over "
            f"{len(self.rows)} baseline features; {self.top_overlap} of the truth's top {TOP} "
            f"are among the model's top {TOP}."
        )


def response_attributions(explainer: Explainer, prepared: PreparedInput) -> np.ndarray:
    """(time points, :data:`ATTRIBUTED`) Integrated Gradients of the response axis
    log P(pCR) - log P(none) from the reference patient (what ``evaluate-explanations``
    compares with the truth)."""
    model = explainer.predictor.model.eval()
    with torch.no_grad():
        image_embedding = model.image_branch(prepared.image, prepared.kind)
    forward = sequence_function(
        model,
        image_embedding,
        prepared.kind,
        prepared.length,
        response_score(explainer.predictor.temperature),
    )
    length = int(prepared.length[0])
    base = baseline_for(prepared.sequence[0].cpu().numpy(), length, explainer.reference)
    result = integrated_gradients(
        forward,
        prepared.sequence,
        torch.from_numpy(base)[None].to(prepared.sequence.device),
        length,
        explainer.steps,
    )
    return result.attributions


def true_baseline(truth: CaseTruth) -> np.ndarray:
    """(len(BASELINE_FEATURES),) the truth's contribution of each baseline feature (the sum of
    its terms; 0 for features with no term)."""
    out = np.zeros(len(BASELINE_FEATURES))
    for term, _, owner in ETA_TERMS:
        if owner in BASELINE_FEATURES:
            out[BASELINE_FEATURES.index(owner)] += truth.contributions[term]
    return out


def _feature_columns(cases: dict[str, np.ndarray], name: str) -> list[np.ndarray]:
    """The numeric columns of a feature for correlations (indicators for categories)."""
    codes = cases[name]
    if name == "subtype" or (
        FEATURES_BY_NAME[name].kind == "categorical" and len(FEATURES_BY_NAME[name].categories) > 2
    ):
        return [(codes == k).astype(float) for k in np.unique(codes[~np.isnan(codes)])]
    return [codes]


@lru_cache(maxsize=1)
def correlations() -> tuple[np.ndarray, np.ndarray]:
    """(F, F) twice: the largest absolute correlation between any columns of two baseline
    features, and that correlation with its sign, measured on a phantom cohort
    (:data:`CORRELATION_COHORT`)."""
    cohort = generate_cohort(*CORRELATION_COHORT)
    cases: dict[str, np.ndarray] = {}
    for name in BASELINE_FEATURES:
        if name == "subtype":
            continue
        if name == "tumor_diameter_cm":
            t0 = cohort.timepoints[cohort.timepoints["time_point"] == "T0"]
            cases[name] = t0["tumor_diameter_cm"].to_numpy(dtype=float)
        else:
            cases[name] = column_codes(FEATURES_BY_NAME[name], cohort.cases[name])
    cases["subtype"] = subtype_of(
        cases["er_percent"], cases["pr_percent"], cases["her2_status"]
    ).astype(float)
    columns = {name: _feature_columns(cases, name) for name in BASELINE_FEATURES}
    size = len(BASELINE_FEATURES)
    signed = np.eye(size)
    for i in range(size):
        for j in range(i + 1, size):
            best = 0.0
            for a in columns[BASELINE_FEATURES[i]]:
                for b in columns[BASELINE_FEATURES[j]]:
                    if np.ptp(a) > 0 and np.ptp(b) > 0:
                        r = float(np.corrcoef(a, b)[0, 1])
                        best = r if abs(r) > abs(best) else best
            signed[i, j] = signed[j, i] = best
    return np.abs(signed), signed


def _pct(share: float) -> str:
    """ "+13 %": a signed share as the app writes percentages."""
    return f"{share * 100:+.0f} %"


def _shares(values: np.ndarray) -> np.ndarray:
    total = float(np.abs(values).sum())
    return values / total if total > 0 else np.zeros_like(values)


def _label(name: str) -> str:
    return "subtype" if name == "subtype" else feature_label(name)


def _stand_in(
    index: int, credited: np.ndarray, wanted: float, other: np.ndarray
) -> tuple[int, float] | None:
    """The input most correlated with ``index`` among those ``credited`` (bool mask) whose
    credit in ``other`` points the way ``wanted`` (the sign the moved credit would have), with
    the signed correlation; None when no input stands in."""
    strength, signed = correlations()
    corr = strength[index].copy()
    corr[~credited] = 0.0
    corr[index] = 0.0
    corr[np.sign(other) * np.sign(signed[index]) != np.sign(wanted)] = 0.0
    best = int(np.argmax(corr))
    return (best, float(signed[index, best])) if corr[best] >= CORRELATED else None


_OWNERS = {owner for _, _, owner in ETA_TERMS}


def disagreement_sentences(model: np.ndarray, truth: np.ndarray, limit: int = 4) -> list[str]:
    """Why the model's shares (``model``) depart from the truth's (``truth``), in words: credit
    moved to a correlated input, weight on a null feature, a direction reversed, a strong cause
    given little weight. Largest departures first; at most ``limit``."""
    order = np.argsort(-np.abs(model - truth))
    said: list[str] = []
    explained: set[int] = set()
    for i in (int(k) for k in order):
        if abs(model[i] - truth[i]) < DISAGREE or len(said) >= limit or i in explained:
            continue
        feature = BASELINE_FEATURES[i]
        name = _label(feature)
        m, t = float(model[i]), float(truth[i])
        if abs(m) >= SMALL and abs(t) < SMALL:  # credit where the truth gives (almost) none
            match = _stand_in(i, np.abs(truth) >= SMALL, m, truth)
            if match is not None:
                j, r = match
                said.append(
                    f"The model gives {name} the credit the truth gives "
                    f"{_label(BASELINE_FEATURES[j])}: they are correlated (r = {r:+.2f} in the "
                    "phantom cohort), and the model cannot tell which of the two acts."
                )
                explained.add(j)
            elif feature in NULL_FEATURES:
                said.append(
                    f"The model gives {name} {_pct(m)} of its push, but {name} has no effect "
                    "in the truth (a null feature): a spurious reason."
                )
            elif feature in _OWNERS:
                said.append(
                    f"The model gives {name} {_pct(m)} of its push; for this patient the truth "
                    f"gives it almost none ({_pct(t)})."
                )
            else:
                said.append(
                    f"The model gives {name} {_pct(m)} of its push; the truth has no term for "
                    "it and no input it stands in for explains the credit."
                )
        elif m * t < 0 and abs(m) >= SMALL:
            line = (
                f"The model reads {name} as pushing {'towards' if m > 0 else 'away from'} pCR "
                f"({_pct(m)}); the truth says the opposite ({_pct(t)})."
            )
            if feature == "tumor_diameter_cm":
                line += (
                    " A likely reason: the model reads the baseline size against the later "
                    "ones, where the same later size after a larger start means more shrinkage."
                )
            said.append(line)
        elif abs(t) >= SMALL and abs(m) < abs(t) / 3:  # a cause the model barely uses
            match = _stand_in(i, np.abs(model) >= SMALL, t, model)
            if match is not None:
                j, r = match
                said.append(
                    f"The model gives {_label(BASELINE_FEATURES[j])} the credit the truth gives "
                    f"{name}: they are correlated (r = {r:+.2f} in the phantom cohort)."
                )
                explained.add(j)
            else:
                other = ", and the other way" if m * t < 0 else ""
                said.append(
                    f"The truth gives {name} {_pct(t)} of its push; the model only {_pct(m)}"
                    f"{other}: it has not learnt this effect fully for a case like this one."
                )
        else:
            said.append(
                f"The model weighs {name} {'more' if abs(m) > abs(t) else 'less'} than the "
                f"truth ({_pct(m)} against {_pct(t)})."
            )
        explained.add(i)
    return said


def _image_sentence(explanation: Explanation, truth: CaseTruth) -> str:
    term = truth.image_term
    way = "towards pCR" if term > 0 else "away from pCR"
    said = f"In the truth the tumour's look pushes {way} ({term:+.2f} on the response scale)"
    if explanation.image is None:
        return said + "; the model read no image for this case."
    shapley = explanation.modalities.shapley[list(MODALITIES).index("image")]
    lean = float(shapley[OUTCOMES.index("pCR")] - shapley[OUTCOMES.index("none")])
    model_way = "towards pCR" if lean > 0 else "away from pCR"
    agree = "agrees" if (lean > 0) == (term > 0) else "disagrees"
    return (
        f"{said}; the model's image contribution leans {model_way} "
        f"({lean * 100:+.0f} points of P(pCR) - P(none)): it {agree}."
    )


def _follow_up_sentence(table: np.ndarray, time_points: int, truth: CaseTruth) -> str:
    if time_points < 2:
        return (
            "The case has no follow-up values, so the hidden chemosensitivity u "
            f"({truth.u:+.2f}) is invisible to any reader."
        )
    dynamic = [
        ATTRIBUTED.index(f.name)
        for f in FEATURES_BY_NAME.values()
        if f.timing == "dynamic" and f.name != "relative_dose_intensity"
    ]
    push = float(table[1:, dynamic].sum())  # log-odds on the response axis
    model_way = "towards pCR" if push > 0 else "away from pCR"
    true_way = "more" if truth.u > 0 else "less"
    agree = "agree" if (push > 0) == (truth.u > 0) else "disagree"
    return (
        f"The follow-up tumour sizes and ctDNA push the model {model_way} ({push:+.2f} "
        f"log-odds); the truth's hidden chemosensitivity says this patient responds "
        f"{true_way} than her baseline values predict (u = {truth.u:+.2f}): they {agree}."
    )


def case_agreement(explanation: Explanation, table: np.ndarray, truth: CaseTruth) -> CaseAgreement:
    """The model's response-axis attributions ``table`` (:func:`response_attributions`) for a
    case explained as ``explanation``, against its truth."""
    model = baseline_attributions(table)
    true = true_baseline(truth)
    model_share, truth_share = _shares(model), _shares(true)
    sequence = explanation.sequence
    values = sequence.values[0] if sequence is not None and sequence.values else ()
    rows = []
    for i, name in enumerate(BASELINE_FEATURES):
        value = values[ATTRIBUTED.index(name)] if values else ""
        rows.append(
            FeatureAgreement(
                name,
                _label(name)[:1].upper() + _label(name)[1:],
                value,
                float(model[i]),
                float(true[i]),
                float(model_share[i]),
                float(truth_share[i]),
            )
        )
    rows.sort(key=lambda r: -(abs(r.truth_share) + 0.5 * abs(r.model_share)))
    top_true = set(np.argsort(-np.abs(true))[:TOP])
    top_model = set(np.argsort(-np.abs(model))[:TOP])
    length = table.shape[0]
    return CaseAgreement(
        tuple(rows),
        _spearman(model, true),
        len(top_true & top_model),
        tuple(disagreement_sentences(model_share, truth_share)),
        _image_sentence(explanation, truth),
        _follow_up_sentence(table, length, truth),
    )
