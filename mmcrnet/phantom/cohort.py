"""The phantom cohort's tables and truth (shared/cohort-spec.md, sections 1-4), vectorised.

``generate_cohort(n, seed)`` draws every patient at once from one
``numpy.random.default_rng(seed)`` in a fixed order, so the same (n, seed) gives the same cohort
on every machine. Images are rendered separately (``phantom/images.py``) from per-case
generators derived from the same seed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from mmcrnet.errors import InvalidArgument
from mmcrnet.features import (
    DYNAMIC_FEATURES,
    OUTCOMES,
    STATIC_FEATURES,
    SUBTYPES,
    TIME_POINTS,
    WEEKS,
)

#: Version of shared/cohort-spec.md implemented here (recorded in model cards).
SPEC_VERSION = "cohort-spec 1.0"

SUBTYPE_P = (0.44, 0.34, 0.22)  # HR+/HER2-, HER2+, TNBC
GRADE_P = {0: (0.15, 0.55, 0.30), 1: (0.05, 0.40, 0.55), 2: (0.02, 0.13, 0.85)}
N_STAGE_P = (0.40, 0.40, 0.13, 0.07)
PCR_CUT, NONE_CUT, OUTCOME_SCALE = 1.1, -2.1, 0.35
U_SD = 1.1  # standard deviation of the unexplained chemosensitivity u

#: Names of the image latents (truth only: seen through the image).
IMAGE_LATENTS: tuple[str, ...] = ("heterogeneity", "rim", "irregularity", "washout", "bpe")

#: The true linear predictor: (term, coefficient, model feature the term acts through).
#: ``x`` values of each term are computed in :func:`_term_values`.
ETA_TERMS: tuple[tuple[str, float, str], ...] = (
    ("her2_positive", 0.3, "her2_status"),
    ("tnbc", 0.5, "subtype"),
    ("tchp", 1.0, "regimen"),
    ("pembrolizumab", 0.5, "regimen"),
    ("er_percent", -0.009, "er_percent"),
    ("ki67_percent", 0.02, "ki67_percent"),
    ("grade3", 0.4, "grade"),
    ("lobular", -0.9, "histology"),
    ("age", -0.01, "age"),
    ("tumor_diameter_t0_true", -0.3, "tumor_diameter_cm"),
    ("n_stage", -0.25, "n_stage"),
    ("top2a_expr", 0.5, "top2a_expr"),
    ("esr1_expr", -0.35, "esr1_expr"),
    ("tp53_mutation", 0.35, "tp53_mutation"),
    ("brca_germline", 0.8, "brca_germline"),
    ("pik3ca_and_her2", -0.8, "pik3ca_mutation"),
    ("heterogeneity", -5.5, "image"),
    ("rim", -4.0, "image"),
    ("irregularity", -3.0, "image"),
    ("washout", 3.0, "image"),
)
ETA_INTERCEPT = -0.35
#: Reference points of the centred terms in the spec (x - ref).
_TERM_REF = {
    "ki67_percent": 30.0,
    "age": 50.0,
    "tumor_diameter_t0_true": 3.3,
    "heterogeneity": 0.5,
    "rim": 0.3,
    "irregularity": 0.4,
    "washout": 0.45,
}

#: Features with no path to the outcome (spec section 3).
NULL_FEATURES: tuple[str, ...] = (
    "bmi",
    "menopausal_status",
    "actb_expr",
    "gapdh_expr",
    "bpe",
    "relative_dose_intensity",
)


@dataclass(frozen=True)
class PhantomCohort:
    """A generated cohort: the observed tables (cohort format) plus the truth.

    Attributes:
        seed: the generator seed.
        cases: one row per case: ``case_id`` + static features (raw values, as in cases.csv).
        timepoints: long format: ``case_id, time_point, week`` + dynamic features (all four
            time points per case; models see shorter sequences by truncation).
        outcomes: ``case_id, response`` with response in :data:`OUTCOMES`.
        truth: one row per case: subtype, latents, tumour diameter, eta, u, eta_full,
            oracle probabilities, shrinkage and clearance rates.
        contributions: one row per case, one column per term of :data:`ETA_TERMS`: the term
            minus its cohort mean (the ground-truth contribution), plus ``u``.
    """

    seed: int
    cases: pd.DataFrame
    timepoints: pd.DataFrame
    outcomes: pd.DataFrame
    truth: pd.DataFrame
    contributions: pd.DataFrame

    @property
    def n(self) -> int:
        return len(self.cases)

    @property
    def case_ids(self) -> list[str]:
        return self.cases["case_id"].tolist()

    def subset(self, rows: np.ndarray | list[int]) -> PhantomCohort:
        """The cohort restricted to the given row positions (order kept)."""
        rows = np.asarray(rows, dtype=np.int64)
        ids = self.cases["case_id"].iloc[rows].tolist()
        pick = lambda df: df.iloc[rows].reset_index(drop=True)  # noqa: E731
        position = {case_id: i for i, case_id in enumerate(ids)}
        tp = self.timepoints[self.timepoints["case_id"].isin(position)]
        tp = tp.iloc[np.argsort(tp["case_id"].map(position).to_numpy(), kind="stable")]
        tp = tp.reset_index(drop=True)
        return PhantomCohort(
            self.seed,
            pick(self.cases),
            tp,
            pick(self.outcomes),
            pick(self.truth),
            pick(self.contributions),
        )


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def oracle_probabilities(eta_full: np.ndarray) -> np.ndarray:
    """(N, 3) true class probabilities (pCR, partial, none) given eta_full (spec section 3)."""
    p_pcr = sigmoid((eta_full - PCR_CUT) / OUTCOME_SCALE)
    p_none = 1.0 - sigmoid((eta_full - NONE_CUT) / OUTCOME_SCALE)
    return np.stack([p_pcr, 1.0 - p_pcr - p_none, p_none], axis=1)


def expected_probabilities(eta: np.ndarray, nodes: int = 48) -> np.ndarray:
    """(N, 3) class probabilities given eta alone, the unexplained chemosensitivity u integrated
    out (Gauss-Hermite): what a reader of every observable variable and image latent can know."""
    x, w = np.polynomial.hermite.hermgauss(nodes)
    u = np.sqrt(2.0) * U_SD * x  # (K,)
    probs = oracle_probabilities((np.asarray(eta, dtype=float)[:, None] + u[None, :]).ravel())
    return np.einsum("nkc,k->nc", probs.reshape(len(eta), nodes, 3), w / np.sqrt(np.pi))


def case_ids_for(n: int) -> list[str]:
    width = max(5, len(str(n - 1)))
    return [f"PH{i:0{width}d}" for i in range(n)]


def _categorical(rng: np.random.Generator, probs: np.ndarray) -> np.ndarray:
    """One draw per row from row-wise categorical probabilities (N, K)."""
    u = rng.random((probs.shape[0],))
    return (u[:, None] > np.cumsum(probs, axis=1)[:, :-1]).sum(axis=1)


def _term_values(s: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The x of every eta term (spec section 3), before multiplying by its coefficient."""
    her2 = (s["subtype"] == 1).astype(float)
    x = {
        "her2_positive": her2,
        "tnbc": (s["subtype"] == 2).astype(float),
        "tchp": (s["regimen"] == 1).astype(float),
        "pembrolizumab": (s["regimen"] == 2).astype(float),
        "er_percent": s["er_percent"],
        "ki67_percent": s["ki67_percent"],
        "grade3": (s["grade"] == 3).astype(float),
        "lobular": s["lobular"].astype(float),
        "age": s["age"],
        "tumor_diameter_t0_true": s["d0"],
        "n_stage": s["n_stage"].astype(float),
        "top2a_expr": s["top2a_expr"],
        "esr1_expr": s["esr1_expr"],
        "tp53_mutation": s["tp53"].astype(float),
        "brca_germline": s["brca"].astype(float),
        "pik3ca_and_her2": s["pik3ca"] * her2,
        "heterogeneity": s["heterogeneity"],
        "rim": s["rim"],
        "irregularity": s["irregularity"],
        "washout": s["washout"],
    }
    return {k: v - _TERM_REF.get(k, 0.0) for k, v in x.items()}


def generate_cohort(n: int, seed: int) -> PhantomCohort:
    """Draw ``n`` phantom patients with ``numpy.random.default_rng(seed)``.

    Raises:
        ValueError: ``n`` < 1.
    """
    if n < 1:
        raise InvalidArgument(f"n must be at least 1, got {n}")
    rng = np.random.default_rng(seed)
    s: dict[str, np.ndarray] = {}

    # --- static clinical (section 2) ---
    subtype = rng.choice(3, size=n, p=SUBTYPE_P)
    s["subtype"] = subtype
    hr, her2p, tnbc = subtype == 0, subtype == 1, subtype == 2
    age = np.clip(rng.normal(51, 11, n), 24, 85)
    s["age"] = age
    post = rng.random(n) < sigmoid((age - 50) / 2.5)
    bmi = np.clip(rng.normal(27, 5, n), 16, 50)
    er_hr = np.clip(rng.normal(80, 15, n), 10, 100)
    er_her2 = np.clip(rng.normal(60, 25, n), 1, 100)
    er_her2_half = rng.random(n) < 0.5
    er = np.where(hr, er_hr, np.where(her2p & er_her2_half, er_her2, 0.0))
    s["er_percent"] = er
    pr = np.where(er > 0, er * rng.uniform(0.2, 1.0, n), 0.0)
    grade_p = np.array([GRADE_P[int(t)] for t in range(3)])[subtype]
    grade = _categorical(rng, grade_p) + 1
    s["grade"] = grade
    ki67 = np.where(hr, 100 * rng.beta(2, 6, n), 100 * rng.beta(4, 4, n))
    ki67 = np.clip(ki67, 1, 95)
    s["ki67_percent"] = ki67
    lobular = hr & (rng.random(n) < 0.15)
    s["lobular"] = lobular
    d0 = np.clip(np.exp(rng.normal(np.log(3.3), 0.4, n)), 1, 10)
    s["d0"] = d0
    t_stage = np.where(d0 <= 2, 1, np.where(d0 <= 5, 2, 3))
    n_stage = rng.choice(4, size=n, p=N_STAGE_P)
    s["n_stage"] = n_stage
    u_regimen = rng.random(n)
    regimen = np.zeros(n, dtype=np.int64)  # 0 AC-T, 1 TCHP, 2 AC-T+pembrolizumab
    regimen[her2p & (u_regimen < 0.92)] = 1
    regimen[tnbc & (u_regimen < 0.70)] = 2
    s["regimen"] = regimen

    # --- static genomic ---
    esr1 = (er - 40) / 35 + rng.normal(0, 0.5, n)
    pgr = (pr - 25) / 30 + rng.normal(0, 0.5, n)
    erbb2 = np.where(her2p, 2.0, -0.5) + rng.normal(0, 0.6, n)
    mki67 = (ki67 - 30) / 20 + rng.normal(0, 0.6, n)
    top2a = 0.5 * mki67 + np.where(her2p, 0.6, 0.0) + rng.normal(0, 0.7, n)
    actb = rng.normal(0, 1, n)
    gapdh = rng.normal(0, 1, n)
    s["esr1_expr"], s["top2a_expr"] = esr1, top2a
    tp53 = rng.random(n) < np.select([tnbc, her2p], [0.80, 0.60], 0.20)
    pik3ca = rng.random(n) < np.select([tnbc, her2p], [0.08, 0.25], 0.35)
    brca = rng.random(n) < np.where(tnbc, 0.15, 0.03)
    s["tp53"], s["pik3ca"], s["brca"] = tp53, pik3ca, brca

    # --- image latents ---
    s["heterogeneity"] = np.clip(rng.beta(2.5, 2.5, n) + 0.05 * (d0 - 3.3), 0, 1)
    s["rim"] = np.clip(rng.beta(1.5, 3.5, n) + np.where(tnbc, 0.2, 0.0), 0, 1)
    s["irregularity"] = np.clip(rng.beta(2, 3, n) + np.where(lobular, 0.2, 0.0), 0, 1)
    s["washout"] = np.clip(rng.beta(2, 2.5, n) + 0.004 * (ki67 - 30), 0, 1)
    s["bpe"] = rng.beta(2, 4, n)

    # --- the true response model (section 3) ---
    xs = _term_values(s)
    terms = {name: coef * xs[name] for name, coef, _ in ETA_TERMS}
    eta = ETA_INTERCEPT + np.sum(list(terms.values()), axis=0)
    u = rng.normal(0, U_SD, n)
    eta_full = eta + u
    score = eta_full + rng.logistic(0, OUTCOME_SCALE, n)
    outcome = np.where(score > PCR_CUT, 0, np.where(score < NONE_CUT, 2, 1))
    oracle = oracle_probabilities(eta_full)

    # --- dynamics (section 4) ---
    weeks = np.asarray(WEEKS)
    k = np.clip(0.055 + 0.035 * eta_full + rng.normal(0, 0.045, n), -0.03, 0.25)
    d_true = d0[:, None] * np.exp(-k[:, None] * weeks[None, :])  # (N, T)
    noise_sd = np.where(weeks == 0, 0.05, 0.15)
    d_meas = np.clip(d_true * (1 + rng.normal(0, 1, (n, len(weeks))) * noise_sd), 0, 15)
    c0 = np.clip(np.exp(rng.normal(np.log(0.8), 1.0, n)) * d0 / 3.3, 0, 40)
    r = np.clip(0.25 + 0.15 * eta_full + rng.normal(0, 0.3, n), -0.1, 1.2)
    c_true = c0[:, None] * np.exp(-r[:, None] * weeks[None, :])  # (N, T)
    c_meas = np.where(c_true < 0.05, 0.0, c_true * np.exp(rng.normal(0, 0.3, (n, len(weeks)))))
    # A tumour fraction cannot exceed 100 % (the spec leaves this implicit; ~1 in 10 000 rows).
    c_meas = np.minimum(c_meas, 100.0)
    rdi = np.clip(rng.normal(95, 8, (n, len(weeks))), 50, 100)
    rdi[:, 0] = 100.0

    ids = case_ids_for(n)
    regimen_names = np.array(["AC-T", "TCHP", "AC-T+pembrolizumab"])
    cases = pd.DataFrame(
        {
            "case_id": ids,
            "age": np.round(age, 1),
            "menopausal_status": np.where(post, "post", "pre"),
            "bmi": np.round(bmi, 1),
            "er_percent": np.round(er, 1),
            "pr_percent": np.round(pr, 1),
            "her2_status": np.where(her2p, "positive", "negative"),
            "grade": grade,
            "ki67_percent": np.round(ki67, 1),
            "histology": np.where(lobular, "lobular", "ductal"),
            "t_stage": t_stage,
            "n_stage": n_stage,
            "regimen": regimen_names[regimen],
            "esr1_expr": np.round(esr1, 4),
            "pgr_expr": np.round(pgr, 4),
            "erbb2_expr": np.round(erbb2, 4),
            "mki67_expr": np.round(mki67, 4),
            "top2a_expr": np.round(top2a, 4),
            "actb_expr": np.round(actb, 4),
            "gapdh_expr": np.round(gapdh, 4),
            "tp53_mutation": tp53.astype(int),
            "pik3ca_mutation": pik3ca.astype(int),
            "brca_germline": brca.astype(int),
        }
    )
    assert list(cases.columns[1:]) == [f.name for f in STATIC_FEATURES]
    n_t = len(TIME_POINTS)
    timepoints = pd.DataFrame(
        {
            "case_id": np.repeat(ids, n_t),
            "time_point": np.tile(TIME_POINTS, n),
            "week": np.tile(weeks, n),
            "tumor_diameter_cm": np.round(d_meas.ravel(), 3),
            "ctdna_percent": np.round(c_meas.ravel(), 4),
            "relative_dose_intensity": np.round(rdi.ravel(), 1),
        }
    )
    assert list(timepoints.columns[3:]) == [f.name for f in DYNAMIC_FEATURES]
    outcomes = pd.DataFrame({"case_id": ids, "response": np.asarray(OUTCOMES)[outcome]})
    truth = pd.DataFrame(
        {
            "case_id": ids,
            "case_index": np.arange(n),  # seeds the case's images
            "subtype": np.asarray(SUBTYPES)[subtype],
            "tumor_diameter_t0_true": d0,
            **{name: s[name] for name in IMAGE_LATENTS},
            "eta": eta,
            "u": u,
            "eta_full": eta_full,
            "p_pcr": oracle[:, 0],
            "p_partial": oracle[:, 1],
            "p_none": oracle[:, 2],
            "shrinkage_rate": k,
            "ctdna_clearance_rate": r,
            "ctdna_t0_true": c0,
        }
    )
    contributions = pd.DataFrame(
        {"case_id": ids, **{t: v - v.mean() for t, v in terms.items()}, "u": u}
    )
    return PhantomCohort(seed, cases, timepoints, outcomes, truth, contributions)
