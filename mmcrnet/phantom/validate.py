"""Check a generated cohort against the validation targets of cohort-spec section 6."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.preprocessing import StandardScaler

from mmcrnet.features import OUTCOMES, SUBTYPES, design_matrix
from mmcrnet.phantom.cohort import IMAGE_LATENTS, PhantomCohort

#: Tolerance of the targets the spec gives as "~x" (the ones it gives as "+- t" use t).
APPROX_TOLERANCE = 0.02


@dataclass(frozen=True)
class Check:
    """One validation target and its measured value."""

    name: str
    measured: float
    target: float
    tolerance: float

    @property
    def passed(self) -> bool:
        return abs(self.measured - self.target) <= self.tolerance + 1e-12

    def to_dict(self) -> dict[str, object]:
        return {**asdict(self), "passed": self.passed}


@dataclass(frozen=True)
class ValidationReport:
    n: int
    seed: int
    checks: tuple[Check, ...]

    @property
    def passed(self) -> bool:
        return all(c.passed for c in self.checks)

    def to_dict(self) -> dict[str, object]:
        return {
            "n": self.n,
            "seed": self.seed,
            "passed": self.passed,
            "checks": [c.to_dict() for c in self.checks],
        }


def macro_auc(y: np.ndarray, proba: np.ndarray) -> float:
    """Macro one-vs-rest AUC over the three outcome classes."""
    return float(
        roc_auc_score(y, proba, multi_class="ovr", average="macro", labels=np.arange(len(OUTCOMES)))
    )


def reference_fit(
    x: np.ndarray, y: np.ndarray, seed: int, train_fraction: float = 0.7
) -> tuple[float, float]:
    """Multinomial logistic regression on a random split: (accuracy, macro AUC) on the rest."""
    order = np.random.default_rng(seed).permutation(len(y))
    cut = int(round(train_fraction * len(y)))
    train, test = order[:cut], order[cut:]
    scaler = StandardScaler().fit(x[train])
    model = LogisticRegression(max_iter=2000, C=1.0)
    model.fit(scaler.transform(x[train]), y[train])
    proba = model.predict_proba(scaler.transform(x[test]))
    accuracy = float(np.mean(proba.argmax(axis=1) == y[test]))
    return accuracy, macro_auc(y[test], proba)


def validate_cohort(cohort: PhantomCohort) -> ValidationReport:
    """Measure every target of spec section 6 on ``cohort`` (meant for n = 20 000, seed 1)."""
    y = cohort.outcomes["response"].map({c: i for i, c in enumerate(OUTCOMES)}).to_numpy()
    checks: list[Check] = []
    for i, (cls, target) in enumerate(zip(OUTCOMES, (0.36, 0.38, 0.25))):
        checks.append(Check(f"prevalence {cls}", float(np.mean(y == i)), target, 0.02))
    subtype = cohort.truth["subtype"].to_numpy()
    for name, target in zip(SUBTYPES, (0.09, 0.60, 0.55)):
        rate = float(np.mean(y[subtype == name] == 0)) if np.any(subtype == name) else float("nan")
        checks.append(Check(f"pCR rate {name}", rate, target, 0.03))

    oracle = cohort.truth[["p_pcr", "p_partial", "p_none"]].to_numpy()
    checks.append(Check("oracle accuracy", float(np.mean(oracle.argmax(1) == y)), 0.89, 0.01))
    checks.append(Check("oracle macro AUC", macro_auc(y, oracle), 0.98, 0.01))

    latents = cohort.truth[list(IMAGE_LATENTS)].to_numpy()
    clinical, _ = design_matrix(cohort.cases, cohort.timepoints, ("clinical",))
    genomic, _ = design_matrix(cohort.cases, cohort.timepoints, ("genomic",))
    designs = {
        "latent reference": (np.hstack([clinical, genomic, latents]), 0.81, 0.94),
        "without image latents": (np.hstack([clinical, genomic]), None, 0.91),
        "without clinical": (np.hstack([genomic, latents]), None, 0.90),
        "without genomic": (np.hstack([clinical, latents]), None, 0.93),
    }
    for name, (x, target_acc, target_auc) in designs.items():
        accuracy, auc = reference_fit(x, y, cohort.seed)
        if target_acc is not None:
            checks.append(Check(f"{name} accuracy", accuracy, target_acc, APPROX_TOLERANCE))
        checks.append(Check(f"{name} macro AUC", auc, target_auc, APPROX_TOLERANCE))
    return ValidationReport(cohort.n, cohort.seed, tuple(checks))
