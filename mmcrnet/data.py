"""Cases -> tensors: the image (C, S, S), the clinical/genomic sequence (T, F) and its length.

The image input is made by :mod:`mmcrnet.preprocess` (phases, slice, padding, resizing);
here it is only batched. The sequence has one row per observed time point; every row holds all
static features (carried forward), the dynamic features of that time point, a present-flag per
feature, the derived subtype and the week. Missing values, missing time points and missing
modalities are all expressed the same way: values 0 with their present-flag 0.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import get_args

import numpy as np
import pandas as pd
import torch

from mmcrnet.errors import InvalidCase
from mmcrnet.features import (
    DYNAMIC_FEATURES,
    FEATURES,
    OUTCOMES,
    STATIC_FEATURES,
    SUBTYPES,
    TIME_POINTS,
    Feature,
    Group,
    column_codes,
    encode_column,
    subtype_of,
)
from mmcrnet.model import ModelConfig, variant_config
from mmcrnet.preprocess import (  # noqa: F401
    IMAGE_KINDS,
    IMAGE_SIZE,
    MAMMOGRAM,
    MRI,
    NO_IMAGE,  # the image side: mmcrnet.preprocess
    image_input,
)

MAX_TIME_POINTS = len(TIME_POINTS)
WEEK_SCALE = 12.0


@dataclass(frozen=True)
class SequenceLayout:
    """Column layout of the (T, F) sequence: which columns belong to which feature.

    Attributes:
        names: (F,) column names: encoded feature values, ``<feature>:present`` flags,
            ``subtype=<s>``, ``week``.
        owners: (F,) the schema feature each column belongs to (``subtype`` and ``week`` for the
            derived columns), so attributions can be summed per feature.
    """

    names: tuple[str, ...]
    owners: tuple[str, ...]

    @property
    def width(self) -> int:
        return len(self.names)

    def columns_of(self, feature: str) -> list[int]:
        return [i for i, owner in enumerate(self.owners) if owner == feature]

    def group_mask(self, group: Group) -> np.ndarray:
        """(F,) bool: the columns that carry ``group``'s features (the derived subtype counts as
        clinical: it comes from ER, PR and HER2)."""
        groups = {spec.name: spec.group for spec in FEATURES}
        return np.array(
            [
                groups[o] == group if o in groups else (o == "subtype" and group == "clinical")
                for o in self.owners
            ]
        )


def sequence_layout() -> SequenceLayout:
    names: list[str] = []
    owners: list[str] = []
    for spec in FEATURES:
        for encoded in spec.encoded_names:
            names.append(encoded)
            owners.append(spec.name)
        names.append(f"{spec.name}:present")
        owners.append(spec.name)
    for subtype in SUBTYPES:
        names.append(f"subtype={subtype}")
        owners.append("subtype")
    names.append("week")
    owners.append("week")
    return SequenceLayout(tuple(names), tuple(owners))


LAYOUT = sequence_layout()


@dataclass(frozen=True)
class EncodedSequences:
    """Encoded clinical/genomic sequences of N cases.

    Attributes:
        values: (N, T, F) float32, T = 4; rows past a case's length are zero.
        lengths: (N,) int64 in 1..4.
        case_ids: (N,) in the order of the ``cases`` table.
    """

    values: np.ndarray
    lengths: np.ndarray
    case_ids: tuple[str, ...]


def _encode_block(
    specs: Sequence[Feature], codes: dict[str, np.ndarray], groups: Sequence[str]
) -> dict[str, np.ndarray]:
    """Per feature: (N, K + 1) encoded values plus present-flag; dropped groups are missing."""
    out = {}
    for spec in specs:
        column = codes[spec.name]
        if spec.group not in groups:
            column = np.full_like(column, np.nan)
        values, present = encode_column(spec, column)
        out[spec.name] = np.concatenate([values, present[:, None].astype(np.float32)], axis=1)
    return out


def encode_sequences(
    cases: pd.DataFrame,
    timepoints: pd.DataFrame,
    groups: Sequence[str] = ("clinical", "genomic"),
) -> EncodedSequences:
    """Encode every case's sequence.

    Args:
        cases: ``case_id`` + static features (raw values as in cases.csv; '' or NaN missing).
        timepoints: ``case_id, time_point, week`` + dynamic features; rows of one case in any
            order; a case's sequence is its observed time points in T0..T3 order.
        groups: feature groups the model may see; the others are encoded as missing.

    Raises:
        InvalidCase: a value outside the schema (message names feature and value), or a case
            without a T0 row.
        ValueError: a group that is not a feature group (a bug of the caller's).
    """
    unknown = set(groups) - set(get_args(Group))
    if unknown:
        raise ValueError(f"unknown feature groups {sorted(unknown)}; known: {get_args(Group)}")
    n = len(cases)
    ids = cases["case_id"].astype(str).tolist()
    static_codes = {
        s.name: column_codes(s, cases[s.name]) if s.name in cases else np.full(n, np.nan)
        for s in STATIC_FEATURES
    }
    static = _encode_block(STATIC_FEATURES, static_codes, groups)
    subtype = subtype_of(
        static_codes["er_percent"], static_codes["pr_percent"], static_codes["her2_status"]
    )
    if "clinical" not in groups:
        subtype = np.full(n, -1)
    subtype_onehot = (subtype[:, None] == np.arange(len(SUBTYPES))[None, :]).astype(np.float32)

    tp = timepoints.copy()
    tp["_case"] = tp["case_id"].astype(str).map({c: i for i, c in enumerate(ids)})
    tp = tp[tp["_case"].notna()]
    tp["_order"] = tp["time_point"].map({t: i for i, t in enumerate(TIME_POINTS)})
    tp = tp.sort_values(["_case", "_order"], kind="stable")
    case_index = tp["_case"].to_numpy(dtype=np.int64)
    step = tp.groupby("_case").cumcount().to_numpy()
    lengths = np.bincount(case_index, minlength=n)
    first = tp.groupby("_case")["_order"].first()
    without_t0 = [ids[i] for i in range(n) if lengths[i] == 0 or first.get(i, 1) != 0]
    if without_t0:
        raise InvalidCase(f"case '{without_t0[0]}' has no T0 (baseline) time point")
    dynamic_codes = {
        s.name: column_codes(s, tp[s.name].reset_index(drop=True))
        if s.name in tp
        else np.full(len(tp), np.nan)
        for s in DYNAMIC_FEATURES
    }
    dynamic = _encode_block(DYNAMIC_FEATURES, dynamic_codes, groups)
    weeks = (
        pd.to_numeric(tp["week"], errors="coerce").to_numpy(dtype=np.float64)
        if "week" in tp
        else np.full(len(tp), np.nan)
    )
    nominal = np.array([0.0, 3.0, 6.0, 12.0])[tp["_order"].to_numpy()]
    weeks = np.where(np.isnan(weeks), nominal, weeks)

    values = np.zeros((n, MAX_TIME_POINTS, LAYOUT.width), dtype=np.float32)
    rows = np.zeros((len(tp), LAYOUT.width), dtype=np.float32)
    column = 0
    for spec in FEATURES:
        block = dynamic[spec.name] if spec.timing == "dynamic" else static[spec.name][case_index]
        rows[:, column : column + block.shape[1]] = block
        column += block.shape[1]
    rows[:, column : column + len(SUBTYPES)] = subtype_onehot[case_index]
    rows[:, -1] = weeks / WEEK_SCALE
    values[case_index, step] = rows
    return EncodedSequences(values, lengths.astype(np.int64), tuple(ids))


def model_config(variant: str = "mmcrnet", **overrides: object) -> ModelConfig:
    """A model config with this pipeline's sizes: the image side (:data:`IMAGE_SIZE`), the
    sequence width (:data:`LAYOUT`), the time points and the outcomes. Changing one of them
    (e.g. ``IMAGE_SIZE``) and retraining is all a new input size needs."""
    sizes: dict[str, object] = {
        "image_size": IMAGE_SIZE,
        "feature_dim": LAYOUT.width,
        "max_time_points": MAX_TIME_POINTS,
        "n_classes": len(OUTCOMES),
    }
    return variant_config(variant, **{**sizes, **overrides})


def truncate(
    values: np.ndarray, lengths: np.ndarray, new_lengths: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Keep the first ``min(length, new_length)`` time points of each case.

    Args:
        values: (N, T, F); lengths, new_lengths: (N,).
    Returns:
        ``(values (N, T, F), lengths (N,))`` copies.
    """
    lengths = np.minimum(lengths, new_lengths)
    keep = np.arange(values.shape[1])[None, :] < lengths[:, None]  # (N, T)
    return values * keep[:, :, None], lengths


# --- images -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ImageArrays:
    """Image inputs of N cases, both modalities kept (training picks one per step).

    Attributes:
        mri: (N, 3, S, S) float16; zeros where ``has_mri`` is False.
        mammogram: (N, 1, S, S) float16; zeros where ``has_mammogram`` is False.
        has_mri, has_mammogram: (N,) bool.
    """

    mri: np.ndarray
    mammogram: np.ndarray
    has_mri: np.ndarray
    has_mammogram: np.ndarray


def batch_images(arrays: ImageArrays, rows: np.ndarray, kinds: np.ndarray) -> torch.Tensor:
    """The (B, 3, S, S) image tensor for a batch: MRI in 3 channels, a mammogram in channel 0,
    zeros for no image.

    Args:
        rows: (B,) case rows into ``arrays``; kinds: (B,) image kind per case.
    """
    return torch.from_numpy(batch_image_array(arrays, rows, kinds))


def batch_image_array(
    arrays: ImageArrays, rows: np.ndarray, kinds: np.ndarray, flip: np.ndarray | None = None
) -> np.ndarray:
    """:func:`batch_images` as a float32 numpy array, the cases where ``flip`` (B,) is True
    mirrored left-right; numpy only, so a DataLoader worker forked from a process running torch
    can build it."""
    size = arrays.mri.shape[-1]
    out = np.zeros((len(rows), 3, size, size), dtype=np.float32)
    is_mri, is_mg = kinds == MRI, kinds == MAMMOGRAM
    if is_mri.any():
        out[is_mri] = arrays.mri[rows[is_mri]]
    if is_mg.any():
        out[is_mg, :1] = arrays.mammogram[rows[is_mg]]
    if flip is not None and flip.any():
        out[flip] = out[flip][..., ::-1]
    return out
