"""The clinical and genomic feature schema: the single source of truth for names, units, bounds
and encodings.

Everything that reads, writes, validates, encodes or displays a tabular feature takes it from
here: the phantom generator, the cohort loader, the model's input encoding and the app's form.

A case has *static* features (known at baseline, carried forward to every time point) and
*dynamic* features (measured at each time point T0..T3).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from mmcrnet.errors import InvalidCase

Group = Literal["clinical", "genomic"]
Timing = Literal["static", "dynamic"]
Kind = Literal["numeric", "categorical", "binary"]

#: Outcome classes, in this order everywhere (model outputs, tables, plots).
OUTCOMES: tuple[str, ...] = ("pCR", "partial", "none")

#: Time points and their nominal weeks from the start of neoadjuvant chemotherapy.
TIME_POINTS: tuple[str, ...] = ("T0", "T1", "T2", "T3")
WEEKS: tuple[float, ...] = (0.0, 3.0, 6.0, 12.0)
WEEK_BOUNDS: tuple[float, float] = (0.0, 52.0)

#: Molecular subtypes, derived from ER, PR and HER2 (not entered separately).
SUBTYPES: tuple[str, ...] = ("HR+/HER2-", "HER2+", "TNBC")

TRUE_WORDS = frozenset({"1", "true", "yes", "y", "positive", "pos", "mutated"})
FALSE_WORDS = frozenset({"0", "false", "no", "n", "negative", "neg", "wildtype", "wild-type"})


#: Characters no valid text holds: C0/C1 controls except tab, and lone surrogates (a JSON
#: ``"\ud800"`` escape decodes to one; it cannot be encoded, so it breaks whatever prints it).
_NOT_TEXT = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f\ud800-\udfff]")

#: How many characters of a user's value an error message quotes.
ECHO_CHARS = 20


def is_valid_text(text: str) -> bool:
    """True when ``text`` holds no control character (tab aside) and no lone surrogate."""
    return _NOT_TEXT.search(text) is None


def echo_value(value: object, limit: int = ECHO_CHARS) -> str:
    """``value`` as an error message may quote it: at most ``limit`` characters (then "…"),
    non-printable characters and lone surrogates escaped (``\\ud800``), so the message stays one
    short line of valid text whatever the user sent."""
    if isinstance(value, str):
        text = value
    elif isinstance(value, (list, tuple, dict, set)):
        text = f"<{type(value).__name__}>"  # never stringify user-sized nesting
    elif isinstance(value, int):
        try:
            text = str(value)
        except ValueError:  # past Python's int-to-text digit limit: quote the leading digits
            drop = max(0, value.bit_length() * 3 // 10 - 2 * limit)
            text = ("-" if value < 0 else "") + str(abs(value) // 10**drop)
    else:
        text = str(value)
    shown = ""
    for char in text:
        piece = char if char.isprintable() else char.encode("unicode_escape").decode()
        if len(shown) + len(piece) > limit:
            return shown + "…"
        shown += piece
    return shown


def to_float(value: object) -> float:
    """``float(value)`` for what a table cell or a form field may hold (numbers, numeric text);
    TypeError for anything else, ValueError or OverflowError as ``float`` raises them."""
    if isinstance(value, (int, float, str, np.integer, np.floating)):
        return float(value)
    raise TypeError(f"{value!r} is not a number")


@dataclass(frozen=True)
class Feature:
    """One clinical or genomic input.

    Numeric features are encoded as ``(transform(x) - center) / scale``; categorical ones as
    one-hot over ``categories`` (the first category is a column too: missing values are coded by
    the mask, not by an all-zero row); binary ones as 0/1.
    """

    name: str
    label: str  # what a clinician reads
    group: Group
    timing: Timing
    kind: Kind
    unit: str = ""
    bounds: tuple[float, float] | None = None  # accepted range of raw values (inclusive)
    categories: tuple[str, ...] = ()
    integer: bool = False  # numeric values must be whole numbers (e.g. grade)
    log_offset: float | None = None  # encode log10(x + log_offset) instead of x
    center: float = 0.0  # encoding centre (after the log, if any)
    scale: float = 1.0  # encoding scale (after the log, if any)
    help: str = ""

    @property
    def encoded_names(self) -> tuple[str, ...]:
        """Column names of this feature once encoded for the model."""
        if self.kind == "categorical":
            return tuple(f"{self.name}={c}" for c in self.categories)
        return (self.name,)

    def parse(self, value: object) -> float:
        """Turn one raw value (number, string, bool, None) into its numeric code or NaN.

        Categorical values become their index in ``categories``; binary values 0/1.

        Raises:
            InvalidCase: the value is of the wrong kind or out of bounds; the message names
                the feature, the value and what is allowed.
        """
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return math.nan
        if isinstance(value, (list, tuple, dict, set)):
            raise InvalidCase(f"{self.name}: expected one value, not a {type(value).__name__}")
        if isinstance(value, str):
            if not is_valid_text(value):
                raise InvalidCase(f"{self.name}: contains a character that is not valid text")
            text = value.strip()
            if text == "" or text.lower() in {"na", "nan", "missing"}:
                return math.nan
        elif isinstance(value, float):
            text = f"{value:g}"
        else:
            try:
                text = str(value)
            except ValueError:  # an int past Python's int-to-text digit limit: out of any range
                raise InvalidCase(
                    f"{self.name}: '{echo_value(value)}' is not a number in range"
                ) from None
        shown = echo_value(text)
        if self.kind == "categorical":
            lowered = {c.lower(): i for i, c in enumerate(self.categories)}
            key = text.lower()
            if key in lowered:
                return float(lowered[key])
            raise InvalidCase(f"{self.name}: '{shown}' is not one of {', '.join(self.categories)}")
        if self.kind == "binary":
            if isinstance(value, bool):
                return float(value)
            key = text.lower()
            if key in TRUE_WORDS or key in {"1.0"}:
                return 1.0
            if key in FALSE_WORDS or key in {"0.0"}:
                return 0.0
            raise InvalidCase(f"{self.name}: '{shown}' is not yes/no (1/0)")
        try:
            number = float(text)
        except ValueError:
            raise InvalidCase(f"{self.name}: '{shown}' is not a number") from None
        if not math.isfinite(number):
            raise InvalidCase(f"{self.name}: '{shown}' is not a finite number")
        if self.integer and number != round(number):
            raise InvalidCase(f"{self.name}: {shown} is not a whole number")
        if self.bounds is not None and not (self.bounds[0] <= number <= self.bounds[1]):
            lo, hi = self.bounds
            unit = f" {self.unit}" if self.unit else ""
            raise InvalidCase(
                f"{self.name}: {shown}{unit} is outside the accepted range {lo:g} to {hi:g}{unit}"
            )
        return number

    def format(self, code: float) -> str:
        """The raw value for a numeric code (inverse of :meth:`parse`); '' for missing."""
        if math.isnan(code):
            return ""
        if self.kind == "categorical":
            return self.categories[int(code)]
        if self.kind == "binary" or self.integer:
            return str(int(code))
        return f"{code:.6g}"


def _num(
    name: str,
    label: str,
    group: Group,
    timing: Timing,
    unit: str,
    bounds: tuple[float, float],
    center: float,
    scale: float,
    help: str,
    integer: bool = False,
    log_offset: float | None = None,
) -> Feature:
    return Feature(
        name=name,
        label=label,
        group=group,
        timing=timing,
        kind="numeric",
        unit=unit,
        bounds=bounds,
        center=center,
        scale=scale,
        help=help,
        integer=integer,
        log_offset=log_offset,
    )


def _cat(name: str, label: str, group: Group, categories: tuple[str, ...], help: str) -> Feature:
    return Feature(
        name=name,
        label=label,
        group=group,
        timing="static",
        kind="categorical",
        categories=categories,
        help=help,
    )


def _bin(name: str, label: str, group: Group, help: str) -> Feature:
    return Feature(name=name, label=label, group=group, timing="static", kind="binary", help=help)


FEATURES: tuple[Feature, ...] = (
    # --- static clinical ----------------------------------------------------------------------
    _num(
        "age",
        "Age",
        "clinical",
        "static",
        "years",
        (18, 100),
        50,
        11,
        "Age at diagnosis.",
        integer=False,
    ),
    _cat(
        "menopausal_status",
        "Menopausal status",
        "clinical",
        ("pre", "post"),
        "Pre- or post-menopausal at diagnosis.",
    ),
    _num(
        "bmi",
        "Body-mass index",
        "clinical",
        "static",
        "kg/m2",
        (12, 70),
        27,
        5,
        "Weight / height squared.",
    ),
    _num(
        "er_percent",
        "ER-positive cells",
        "clinical",
        "static",
        "%",
        (0, 100),
        50,
        35,
        "Oestrogen receptor: percentage of tumour cells staining (IHC).",
    ),
    _num(
        "pr_percent",
        "PR-positive cells",
        "clinical",
        "static",
        "%",
        (0, 100),
        30,
        30,
        "Progesterone receptor: percentage of tumour cells staining (IHC).",
    ),
    _cat(
        "her2_status",
        "HER2 status",
        "clinical",
        ("negative", "positive"),
        "Positive = IHC 3+ or ISH-amplified.",
    ),
    _num(
        "grade",
        "Histological grade",
        "clinical",
        "static",
        "",
        (1, 3),
        2,
        1,
        "Nottingham grade 1-3.",
        integer=True,
    ),
    _num(
        "ki67_percent",
        "Ki-67 index",
        "clinical",
        "static",
        "%",
        (0, 100),
        30,
        20,
        "Percentage of Ki-67-positive tumour nuclei.",
    ),
    _cat(
        "histology",
        "Histology",
        "clinical",
        ("ductal", "lobular"),
        "Invasive ductal (NST) or invasive lobular carcinoma.",
    ),
    _num(
        "t_stage",
        "Clinical T stage",
        "clinical",
        "static",
        "",
        (1, 4),
        2,
        1,
        "cT1 (<= 2 cm), cT2 (<= 5 cm), cT3 (> 5 cm), cT4 (chest wall / skin).",
        integer=True,
    ),
    _num(
        "n_stage",
        "Clinical N stage",
        "clinical",
        "static",
        "",
        (0, 3),
        1,
        1,
        "cN0-cN3.",
        integer=True,
    ),
    _cat(
        "regimen",
        "Neoadjuvant regimen",
        "clinical",
        ("AC-T", "TCHP", "AC-T+pembrolizumab"),
        "AC-T: anthracycline + cyclophosphamide then taxane; TCHP: docetaxel, carboplatin, "
        "trastuzumab, pertuzumab; AC-T+pembrolizumab: KEYNOTE-522.",
    ),
    # --- static genomic (baseline biopsy; expression as z-scores) ------------------------------
    _num(
        "esr1_expr",
        "ESR1 expression",
        "genomic",
        "static",
        "z",
        (-10, 10),
        0,
        1,
        "ESR1 mRNA, z-score.",
    ),
    _num(
        "pgr_expr",
        "PGR expression",
        "genomic",
        "static",
        "z",
        (-10, 10),
        0,
        1,
        "PGR mRNA, z-score.",
    ),
    _num(
        "erbb2_expr",
        "ERBB2 expression",
        "genomic",
        "static",
        "z",
        (-10, 10),
        0,
        1,
        "ERBB2 (HER2) mRNA, z-score.",
    ),
    _num(
        "mki67_expr",
        "MKI67 expression",
        "genomic",
        "static",
        "z",
        (-10, 10),
        0,
        1,
        "MKI67 mRNA, z-score.",
    ),
    _num(
        "top2a_expr",
        "TOP2A expression",
        "genomic",
        "static",
        "z",
        (-10, 10),
        0,
        1,
        "TOP2A mRNA, z-score.",
    ),
    _num(
        "actb_expr",
        "ACTB expression",
        "genomic",
        "static",
        "z",
        (-10, 10),
        0,
        1,
        "ACTB mRNA (housekeeping gene), z-score.",
    ),
    _num(
        "gapdh_expr",
        "GAPDH expression",
        "genomic",
        "static",
        "z",
        (-10, 10),
        0,
        1,
        "GAPDH mRNA (housekeeping gene), z-score.",
    ),
    _bin("tp53_mutation", "TP53 mutation", "genomic", "Somatic TP53 mutation in the biopsy."),
    _bin("pik3ca_mutation", "PIK3CA mutation", "genomic", "Somatic PIK3CA mutation in the biopsy."),
    _bin("brca_germline", "Germline BRCA1/2", "genomic", "Pathogenic germline BRCA1/2 variant."),
    # --- dynamic (one value per time point) ----------------------------------------------------
    _num(
        "tumor_diameter_cm",
        "Tumour diameter",
        "clinical",
        "dynamic",
        "cm",
        (0, 20),
        0.4,
        0.3,
        "Largest diameter on imaging at this time point.",
        log_offset=0.1,
    ),
    _num(
        "ctdna_percent",
        "ctDNA tumour fraction",
        "genomic",
        "dynamic",
        "%",
        (0, 100),
        -1.0,
        1.0,
        "Circulating tumour DNA fraction; 0 = not detected.",
        log_offset=0.01,
    ),
    _num(
        "relative_dose_intensity",
        "Relative dose intensity",
        "clinical",
        "dynamic",
        "%",
        (0, 150),
        95,
        10,
        "Delivered / planned dose so far (100 at baseline).",
    ),
)

FEATURES_BY_NAME: dict[str, Feature] = {f.name: f for f in FEATURES}
STATIC_FEATURES: tuple[Feature, ...] = tuple(f for f in FEATURES if f.timing == "static")
DYNAMIC_FEATURES: tuple[Feature, ...] = tuple(f for f in FEATURES if f.timing == "dynamic")


def feature(name: str) -> Feature:
    """The feature called ``name``.

    Raises:
        KeyError: no such feature (the message lists the known names).
    """
    try:
        return FEATURES_BY_NAME[name]
    except KeyError:
        raise KeyError(f"unknown feature '{name}'; known: {', '.join(FEATURES_BY_NAME)}") from None


def encode_column(spec: Feature, codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Encode one feature's numeric codes (from :meth:`Feature.parse`) for the model.

    Args:
        spec: the feature.
        codes: (N,) float array; NaN where missing.

    Returns:
        ``(values, present)``: values (N, K) float32 with K = len(spec.encoded_names), zeros where
        missing; present (N,) bool.
    """
    codes = np.asarray(codes, dtype=np.float64)
    present = ~np.isnan(codes)
    if spec.kind == "categorical":
        values = np.zeros((codes.shape[0], len(spec.categories)), dtype=np.float32)
        rows = np.flatnonzero(present)
        values[rows, codes[rows].astype(np.int64)] = 1.0
        return values, present
    x = np.where(present, codes, 0.0)
    if spec.kind == "numeric":
        if spec.log_offset is not None:
            x = np.log10(np.maximum(x, 0.0) + spec.log_offset)
        x = (x - spec.center) / spec.scale
    values = np.where(present, x, 0.0).astype(np.float32)[:, None]
    return values, present


def subtype_of(
    er_percent: np.ndarray, pr_percent: np.ndarray, her2_positive: np.ndarray
) -> np.ndarray:
    """Molecular subtype index into :data:`SUBTYPES` (HR+ = ER or PR >= 1 %); -1 if unknown.

    Args:
        er_percent, pr_percent: (N,) float, NaN where missing.
        her2_positive: (N,) float code of ``her2_status`` (1 positive, 0 negative, NaN missing).
    """
    er = np.asarray(er_percent, dtype=float)
    pr = np.asarray(pr_percent, dtype=float)
    her2 = np.asarray(her2_positive, dtype=float)
    hr_pos = (np.nan_to_num(er, nan=-1) >= 1) | (np.nan_to_num(pr, nan=-1) >= 1)
    hr_known = hr_pos | (~np.isnan(er) & ~np.isnan(pr))
    out = np.full(er.shape, -1, dtype=np.int64)
    out[her2 == 1] = 1
    out[(her2 == 0) & hr_pos] = 0
    out[(her2 == 0) & ~hr_pos & hr_known] = 2
    return out


def column_codes(spec: Feature, values: pd.Series | np.ndarray | list[object]) -> np.ndarray:
    """Numeric codes (see :meth:`Feature.parse`) of a whole column, vectorised; NaN = missing.

    Raises:
        InvalidCase: the first bad value (use the cohort loader for a report of all of them).
    """
    series = pd.Series(values, dtype=object) if not isinstance(values, pd.Series) else values
    if (
        spec.kind == "numeric"
        and spec.bounds is not None
        and pd.api.types.is_numeric_dtype(series.dtype)
    ):
        codes = series.to_numpy(dtype=np.float64, na_value=np.nan)
        bad = ~np.isnan(codes) & ((codes < spec.bounds[0]) | (codes > spec.bounds[1]))
        if bad.any() or (spec.integer and np.any(codes[~np.isnan(codes)] % 1 != 0)):
            return np.array([spec.parse(v) for v in series], dtype=np.float64)
        return codes
    return np.array([spec.parse(v) for v in series], dtype=np.float64)


def design_matrix(
    cases: pd.DataFrame,
    timepoints: pd.DataFrame,
    groups: tuple[Group, ...] = ("clinical", "genomic"),
) -> tuple[np.ndarray, list[str]]:
    """Flat (N, D) encoding of the tabular data for classical models (logistic regression,
    random forest): static features, the derived subtype, and each dynamic feature at each
    time point (missing values as 0 plus a missing indicator where any are missing).

    Args:
        cases: one row per case, ``case_id`` + static features (raw values).
        timepoints: long format ``case_id, time_point`` + dynamic features.
        groups: which feature groups to include.

    Returns:
        ``(X, names)``: X (N, D) float64 in the order of ``cases``; names (D,).
    """
    blocks: list[np.ndarray] = []
    names: list[str] = []

    def add(spec: Feature, codes: np.ndarray, suffix: str = "") -> None:
        values, present = encode_column(spec, codes)
        blocks.append(values.astype(np.float64))
        names.extend(n + suffix for n in spec.encoded_names)
        if not present.all():
            blocks.append((~present).astype(np.float64)[:, None])
            names.append(f"{spec.name}{suffix}:missing")

    codes = {
        f.name: column_codes(f, cases[f.name]) if f.name in cases else np.full(len(cases), np.nan)
        for f in STATIC_FEATURES
    }
    for spec in STATIC_FEATURES:
        if spec.group in groups:
            add(spec, codes[spec.name])
    if "clinical" in groups:
        sub = subtype_of(codes["er_percent"], codes["pr_percent"], codes["her2_status"])
        onehot = (sub[:, None] == np.arange(len(SUBTYPES))[None, :]).astype(np.float64)
        blocks.append(onehot)
        names.extend(f"subtype={s}" for s in SUBTYPES)
    wide = timepoints.set_index(["case_id", "time_point"])
    for spec in DYNAMIC_FEATURES:
        if spec.group not in groups:
            continue
        for tp in TIME_POINTS:
            key = pd.MultiIndex.from_arrays([cases["case_id"], [tp] * len(cases)])
            column = (
                wide[spec.name].reindex(key) if spec.name in wide else pd.Series(np.nan, index=key)
            )
            add(spec, column_codes(spec, column.reset_index(drop=True)), suffix=f"@{tp}")
    return np.concatenate(blocks, axis=1), names
