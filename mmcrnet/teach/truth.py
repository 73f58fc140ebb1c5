"""A phantom case's truth as a teacher shows it: the tumour it drew, the true response model's
terms for this patient, and the oracle's probabilities (``truth/`` of a phantom cohort folder).

    cohort folder -> truth.csv + contributions.csv + masks/ -> CaseTruth -> words
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

from mmcrnet.cohort import Cohort
from mmcrnet.errors import InvalidArgument
from mmcrnet.features import OUTCOMES
from mmcrnet.phantom.cohort import ETA_TERMS, IMAGE_LATENTS, U_SD

#: The truth's name for each image kind's mask file.
MASK_KINDS: tuple[str, ...] = ("mri", "mammogram")


@dataclass(frozen=True)
class CaseTruth:
    """What the phantom knows about one case and no real cohort would.

    Attributes:
        case_id, subtype: the case and its drawn subtype.
        outcome: the true response (outcomes.csv).
        diameter_cm: the true tumour diameter at baseline (the image's tumour).
        latents: :data:`IMAGE_LATENTS` -> value in [0, 1] (seen only through the image).
        eta: the true linear predictor from every observable variable and image latent; u: the
            unexplained chemosensitivity; eta_full = eta + u.
        oracle: outcome -> probability given eta_full (the physical limit).
        contributions: term of :data:`ETA_TERMS` -> its value minus the cohort mean, plus "u".
        ctdna_t0: the true ctDNA fraction at baseline (%); masks: kind -> (H, W) bool tumour
            mask, for the kinds whose mask file exists.
        seed, case_index: what the case's images were rendered from.
    """

    case_id: str
    subtype: str
    outcome: str | None
    diameter_cm: float
    latents: dict[str, float]
    eta: float
    u: float
    eta_full: float
    oracle: dict[str, float]
    contributions: dict[str, float]
    ctdna_t0: float
    masks: dict[str, np.ndarray]
    seed: int
    case_index: int

    @property
    def image_term(self) -> float:
        """The sum of the image latents' contributions (eta units; > 0 towards pCR)."""
        owners = [term for term, _, owner in ETA_TERMS if owner == "image"]
        return float(sum(self.contributions[t] for t in owners))


@dataclass(frozen=True)
class TumourProperty:
    """One true property of the tumour in words, with its push on the true response model.

    Attributes:
        name: "size" or an image latent; value: the true value (cm for size, else 0..1).
        words: what a radiologist would say of it; effect: its contribution to eta (minus the
            cohort mean; > 0 towards pCR; 0 for background enhancement, which has no effect).
    """

    name: str
    label: str
    value: float
    words: str
    effect: float


@lru_cache(maxsize=16)
def _tables(folder: str, stamp: float) -> tuple[pd.DataFrame, pd.DataFrame]:
    root = Path(folder)
    truth = pd.read_csv(root / "truth.csv", dtype={"case_id": str})
    contributions = pd.read_csv(root / "contributions.csv", dtype={"case_id": str})
    return truth.set_index("case_id"), contributions.set_index("case_id")


def has_truth(cohort: Cohort) -> bool:
    """Whether the cohort folder carries the phantom's truth (a real cohort never does)."""
    folder = cohort.root / "truth"
    return (folder / "truth.csv").is_file() and (folder / "contributions.csv").is_file()


def load_truth(cohort: Cohort, case_id: str) -> CaseTruth:
    """The truth of ``case_id`` in a phantom cohort folder.

    Raises:
        InvalidArgument: the folder has no truth (not a phantom cohort), not this case, or
            truth tables that lack a column this needs.
    """
    if not has_truth(cohort):
        raise InvalidArgument(
            f"{cohort.root.name}/ has no truth/ folder: only phantom cohorts have a known truth"
        )
    folder = cohort.root / "truth"
    truth, contributions = _tables(str(folder), (folder / "truth.csv").stat().st_mtime)
    if case_id not in truth.index or case_id not in contributions.index:
        raise InvalidArgument(f"case '{case_id}' is not in {cohort.root.name}/truth/")
    row, terms = truth.loc[case_id], contributions.loc[case_id]
    needed = ["subtype", "tumor_diameter_t0_true", "eta", "u", "eta_full", "ctdna_t0_true"]
    missing = [c for c in needed + list(IMAGE_LATENTS) if c not in truth.columns]
    missing += [t for t, _, _ in ETA_TERMS if t not in contributions.columns]
    if missing:
        raise InvalidArgument(f"{cohort.root.name}/truth/ lacks {', '.join(missing)}")
    outcome = None
    if cohort.outcomes is not None:
        match = cohort.outcomes.loc[cohort.outcomes["case_id"] == case_id, "response"]
        outcome = str(match.iloc[0]) if len(match) else None
    masks = {}
    for kind in MASK_KINDS:
        path = folder / "masks" / f"{case_id}_{kind}.png"
        if path.is_file():
            with Image.open(path) as picture:
                masks[kind] = np.asarray(picture) > 127
    metadata_seed = cohort.metadata.get("seed")
    return CaseTruth(
        case_id=case_id,
        subtype=str(row["subtype"]),
        outcome=outcome,
        diameter_cm=float(row["tumor_diameter_t0_true"]),
        latents={name: float(row[name]) for name in IMAGE_LATENTS},
        eta=float(row["eta"]),
        u=float(row["u"]),
        eta_full=float(row["eta_full"]),
        oracle={c: float(row[f"p_{c.lower()}"]) for c in OUTCOMES},
        contributions={str(k): float(v) for k, v in terms.items()},
        ctdna_t0=float(row["ctdna_t0_true"]),
        masks=masks,
        seed=int(metadata_seed) if isinstance(metadata_seed, (int, float, str)) else 0,
        case_index=int(row["case_index"]) if "case_index" in row else 0,
    )


def truth_table(cohort: Cohort) -> pd.DataFrame:
    """The whole truth table of a phantom cohort folder (``case_id`` as a column).

    Raises:
        InvalidArgument: the folder has no truth.
    """
    if not has_truth(cohort):
        raise InvalidArgument(
            f"{cohort.root.name}/ has no truth/ folder: only phantom cohorts have a known truth"
        )
    folder = cohort.root / "truth"
    truth, _ = _tables(str(folder), (folder / "truth.csv").stat().st_mtime)
    return truth.reset_index()


def _direction(effect: float) -> str:
    if abs(effect) < 0.05:
        return "hardly moves the response"
    way = "towards pCR" if effect > 0 else "away from pCR"
    return f"pushes {way} ({effect:+.2f} on the true response scale)"


def _words(name: str, value: float, diameter_cm: float) -> str:
    if name == "size":
        stage = "T1" if value <= 2 else "T2" if value <= 5 else "T3"
        return f"{value:.1f} cm across ({stage})"
    if name == "washout":
        late = 1.25 - 0.5 * value  # late over early signal in the tumour (phantom images)
        change = f"{(late - 1) * 100:+.0f} % from the early to the late phase"
        if value < 0.4:
            return f"persistent enhancement, type I curve ({change})"
        if value <= 0.6:
            return f"plateau, type II curve ({change})"
        return f"washout, type III curve ({change})"
    if name == "heterogeneity":
        level = "low" if value < 1 / 3 else "moderate" if value < 2 / 3 else "high"
        return f"{level} internal heterogeneity (texture amplitude {60 * value:.0f} %)"
    if name == "rim":
        fall = f"core enhancement {80 * value:.0f} % lower than the rim"
        if value < 0.2:
            return f"no rim enhancement ({fall})"
        if value < 0.5:
            return f"faint rim enhancement ({fall})"
        return f"marked rim enhancement with a dark, necrotic-looking core ({fall})"
    if name == "irregularity":
        if value < 1 / 3:
            return "smooth, round margin"
        if value <= 0.5:
            return "lobulated margin"
        spicule_mm = 0.8 * diameter_cm * 5.0 * min((value - 0.5) / 0.5, 1.0)
        return f"spiculated margin (spicules up to {spicule_mm:.0f} mm)"
    if name == "bpe":
        level = "minimal" if value < 0.25 else "mild" if value < 0.5 else "moderate or marked"
        return f"{level} background parenchymal enhancement"
    raise InvalidArgument(f"'{name}' is not a tumour property")


LABELS = {
    "size": "Size",
    "washout": "Washout",
    "heterogeneity": "Heterogeneity",
    "rim": "Rim enhancement",
    "irregularity": "Margin irregularity",
    "bpe": "Background enhancement",
}


def tumour_properties(truth: CaseTruth) -> list[TumourProperty]:
    """The true tumour in words, size first, each with its push on the true model (background
    enhancement last: a null feature, shown so a learner sees what does *not* matter)."""
    out = [
        TumourProperty(
            "size",
            LABELS["size"],
            truth.diameter_cm,
            _words("size", truth.diameter_cm, truth.diameter_cm),
            truth.contributions["tumor_diameter_t0_true"],
        )
    ]
    for name in ("washout", "heterogeneity", "rim", "irregularity", "bpe"):
        value = truth.latents[name]
        out.append(
            TumourProperty(
                name,
                LABELS[name],
                value,
                _words(name, value, truth.diameter_cm),
                truth.contributions.get(name, 0.0),
            )
        )
    return out


def property_sentence(item: TumourProperty) -> str:
    """ "Washout: plateau, type II curve (-2 % ...); pushes towards pCR (+0.31 ...)"."""
    if item.name == "bpe":
        return f"{item.label}: {item.words}; no effect on the response (a null feature)."
    return f"{item.label}: {item.words}; {_direction(item.effect)}."


def chemosensitivity_sentence(truth: CaseTruth) -> str:
    """What the hidden part of the truth says for this patient, in words."""
    sd = truth.u / U_SD
    way = "more" if truth.u > 0 else "less"
    return (
        f"Unexplained chemosensitivity u = {truth.u:+.2f} ({abs(sd):.1f} standard deviations "
        f"{way} sensitive than the variables predict). No input carries it at baseline; the "
        "follow-up tumour size and ctDNA reflect it, because they are driven by the response."
    )
