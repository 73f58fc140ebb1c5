"""What the truth says a case's outcome probabilities are, in two strengths:

- the **oracle** knows eta_full = eta + u, the unexplained chemosensitivity included
  (shared/cohort-spec.md section 3): the physical limit, which no measurement moves;
- the **ideal observer** knows the true response model, the case's true tumour (image latents,
  true size and ctDNA at baseline) and every value the case shows, but not u: it infers u from
  the follow-up tumour diameters and ctDNA fractions, whose generation (section 4) it knows.
  This is what a perfect reader of the inputs can know, the fair target for a model.

    eta (from values + latents) + follow-up -> posterior of u -> expected oracle probabilities

The posterior is computed on grids: u (161 points over +-5 sd) and the noise of the shrinkage and
clearance rates (81 points over +-4 sd each; the two rates are independent given u, so their
integrals factor). The clipping of the rates and ctDNA's detection limit are part of the
likelihood.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from scipy.special import logsumexp

from mmcrnet.errors import InvalidArgument
from mmcrnet.features import SUBTYPES, subtype_of
from mmcrnet.phantom.cohort import (
    ETA_INTERCEPT,
    ETA_TERMS,
    IMAGE_LATENTS,
    U_SD,
    _term_values,
    oracle_probabilities,
)

#: Generation of the follow-up values (shared/cohort-spec.md section 4).
SHRINK_BASE, SHRINK_SLOPE, SHRINK_SD, SHRINK_BOUNDS = 0.055, 0.035, 0.045, (-0.03, 0.25)
CLEAR_BASE, CLEAR_SLOPE, CLEAR_SD, CLEAR_BOUNDS = 0.25, 0.15, 0.3, (-0.1, 1.2)
DIAMETER_NOISE, CTDNA_NOISE, CTDNA_DETECTION = 0.15, 0.3, 0.05

_U = np.linspace(-5.0, 5.0, 161) * U_SD
_LOG_PRIOR = -0.5 * (_U / U_SD) ** 2
_NOISE = np.linspace(-4.0, 4.0, 81)
_LOG_NOISE = -0.5 * _NOISE**2 - np.log(np.exp(-0.5 * _NOISE**2).sum())


@dataclass(frozen=True)
class FollowUp:
    """One measurement after baseline: its week, the tumour diameter (cm) and the ctDNA tumour
    fraction (%), NaN where not measured."""

    week: float
    diameter_cm: float
    ctdna_percent: float


class ImpossibleObservation(InvalidArgument):
    """The values cannot occur in the phantom world for this case (e.g. ctDNA undetectable
    after three weeks from a very high baseline): the truth has no answer."""


def follow_ups(timepoints: Sequence[Mapping[str, object]]) -> list[FollowUp]:
    """The case's time-point rows after week 0 as :class:`FollowUp` (missing values NaN)."""
    out = []
    for row in timepoints:
        week = _number(row.get("week"))
        if np.isnan(week) or week <= 0:
            continue
        out.append(
            FollowUp(week, _number(row.get("tumor_diameter_cm")), _number(row.get("ctdna_percent")))
        )
    return out


def _number(value: object) -> float:
    if value is None or value == "":
        return float("nan")
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return float("nan")


def _rates(
    eta: float, base: float, slope: float, sd: float, bounds: tuple[float, float]
) -> np.ndarray:
    """(U, noise) the rate for every u and noise draw, clipped as in the spec."""
    return np.clip(base + slope * (eta + _U[:, None]) + sd * _NOISE[None, :], *bounds)


def log_likelihood(
    eta: float, diameter_t0: float, ctdna_t0: float, measured: Sequence[FollowUp]
) -> np.ndarray:
    """(U,) log p(follow-up values | u) on the u grid (constants dropped); -inf where
    impossible."""
    total = np.zeros_like(_U)
    weeks = np.array([m.week for m in measured], dtype=float)
    diameters = np.array([m.diameter_cm for m in measured], dtype=float)
    if np.isfinite(diameters).any():
        keep = np.isfinite(diameters)
        k = _rates(eta, SHRINK_BASE, SHRINK_SLOPE, SHRINK_SD, SHRINK_BOUNDS)
        true = diameter_t0 * np.exp(-k[..., None] * weeks[keep])  # (U, K, T)
        sd = DIAMETER_NOISE * true
        terms = -0.5 * ((diameters[keep] - true) / sd) ** 2 - np.log(sd)
        total += logsumexp(terms.sum(axis=-1) + _LOG_NOISE[None, :], axis=1)
    fractions = np.array([m.ctdna_percent for m in measured], dtype=float)
    if np.isfinite(fractions).any():
        keep = np.isfinite(fractions)
        r = _rates(eta, CLEAR_BASE, CLEAR_SLOPE, CLEAR_SD, CLEAR_BOUNDS)
        true = ctdna_t0 * np.exp(-r[..., None] * weeks[keep])  # (U, R, T)
        seen = fractions[keep]
        with np.errstate(divide="ignore", invalid="ignore"):
            detected = -0.5 * ((np.log(seen) - np.log(true)) / CTDNA_NOISE) ** 2 - np.log(seen)
        terms = np.where(
            seen > 0,
            np.where(true >= CTDNA_DETECTION, detected, -np.inf),
            np.where(true < CTDNA_DETECTION, 0.0, -np.inf),
        )
        total += logsumexp(terms.sum(axis=-1) + _LOG_NOISE[None, :], axis=1)
    return total


def u_posterior(
    eta: float, diameter_t0: float, ctdna_t0: float, measured: Sequence[FollowUp]
) -> tuple[np.ndarray, np.ndarray]:
    """(u grid, posterior weights summing to 1).

    Raises:
        ImpossibleObservation: no u makes the follow-up values possible.
    """
    log_post = _LOG_PRIOR + log_likelihood(eta, diameter_t0, ctdna_t0, measured)
    if not np.isfinite(log_post).any():
        raise ImpossibleObservation(
            "these follow-up values cannot occur in the phantom world for this case"
        )
    return _U, np.exp(log_post - logsumexp(log_post))


def ideal_observer(
    eta: float, diameter_t0: float, ctdna_t0: float, measured: Sequence[FollowUp]
) -> np.ndarray:
    """(3,) outcome probabilities (pCR, partial, none) given eta and the follow-up values.

    Raises:
        ImpossibleObservation: see :func:`u_posterior`.
    """
    u, weights = u_posterior(eta, diameter_t0, ctdna_t0, measured)
    return weights @ oracle_probabilities(eta + u)


def oracle(eta_full: float) -> np.ndarray:
    """(3,) the oracle's probabilities given eta_full."""
    return oracle_probabilities(np.array([eta_full]))[0]


def _regimen_index(text: object) -> int:
    names = ("AC-T", "TCHP", "AC-T+pembrolizumab")
    if str(text) not in names:
        raise InvalidArgument(f"regimen '{text}' is not one of {', '.join(names)}")
    return names.index(str(text))


def eta_of(static: Mapping[str, object], latents: Mapping[str, float], diameter_cm: float) -> float:
    """The true linear predictor for these baseline values (the subtype derived from ER, PR and
    HER2 as the model derives it), image latents and true tumour diameter.

    Raises:
        InvalidArgument: a value the true model needs is missing or not a value it knows.
    """
    needed = (
        "er_percent",
        "pr_percent",
        "her2_status",
        "ki67_percent",
        "grade",
        "histology",
        "age",
        "n_stage",
        "regimen",
        "top2a_expr",
        "esr1_expr",
        "tp53_mutation",
        "brca_germline",
        "pik3ca_mutation",
    )
    missing = [n for n in needed if static.get(n) in (None, "") or _is_nan(static.get(n))]
    if missing:
        raise InvalidArgument(f"the true model needs {', '.join(missing)}")
    er, pr = _number(static["er_percent"]), _number(static["pr_percent"])
    her2 = 1.0 if str(static["her2_status"]).lower() in {"positive", "1", "1.0"} else 0.0
    subtype = int(subtype_of(np.array([er]), np.array([pr]), np.array([her2]))[0])
    s = {
        "subtype": np.array([subtype]),
        "regimen": np.array([_regimen_index(static["regimen"])]),
        "er_percent": np.array([er]),
        "ki67_percent": np.array([_number(static["ki67_percent"])]),
        "grade": np.array([int(_number(static["grade"]))]),
        "lobular": np.array([str(static["histology"]).lower() == "lobular"]),
        "age": np.array([_number(static["age"])]),
        "d0": np.array([diameter_cm]),
        "n_stage": np.array([int(_number(static["n_stage"]))]),
        "top2a_expr": np.array([_number(static["top2a_expr"])]),
        "esr1_expr": np.array([_number(static["esr1_expr"])]),
        "tp53": np.array([_flag(static["tp53_mutation"])]),
        "pik3ca": np.array([_flag(static["pik3ca_mutation"])]),
        "brca": np.array([_flag(static["brca_germline"])]),
        **{name: np.array([float(latents[name])]) for name in IMAGE_LATENTS},
    }
    x = _term_values(s)
    return float(ETA_INTERCEPT + sum(coef * x[name][0] for name, coef, _ in ETA_TERMS))


def _flag(value: object) -> float:
    return 1.0 if str(value).strip().lower() in {"1", "1.0", "yes", "true", "positive"} else 0.0


def _is_nan(value: object) -> bool:
    return isinstance(value, float) and np.isnan(value)


def subtype_name(static: Mapping[str, object]) -> str:
    """The subtype the true model uses for these values."""
    er, pr = _number(static.get("er_percent")), _number(static.get("pr_percent"))
    her2 = 1.0 if str(static.get("her2_status")).lower() == "positive" else 0.0
    index = int(subtype_of(np.array([er]), np.array([pr]), np.array([her2]))[0])
    return SUBTYPES[index] if index >= 0 else "unknown"
