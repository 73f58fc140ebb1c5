"""Cases -> tensors: the image (C, S, S), the clinical/genomic sequence (T, F) and its length.

The image input is what the image reader (:mod:`mmcrnet.io`) returns, resized: DCE-MRI as three
channels (pre, early, late), a mammogram as one channel, each in [0, 1] after the study's
shared window. The sequence has one row per observed time point; every row holds all static
features (carried forward), the dynamic features of that time point, a present-flag per
feature, the derived subtype and the week. Missing values, missing time points and missing
modalities are all expressed the same way: values 0 with their present-flag 0.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F

from mmcrnet.errors import InvalidCase, UnsupportedImage
from mmcrnet.features import (DYNAMIC_FEATURES, FEATURES, STATIC_FEATURES, SUBTYPES, TIME_POINTS,
                              Feature, Group, column_codes, encode_column, subtype_of)
from mmcrnet.io import Study

#: Side of the square image input. 128 rather than the paper's 224: a 4-block CNN reads size,
#: washout, heterogeneity, rim and irregularity back from 128 x 128 phantom pixels, and training
#: costs ~3x less per sample on the CPU, which is what lets the bundled model train in 45 min.
IMAGE_SIZE = 128
MAX_TIME_POINTS = len(TIME_POINTS)
WEEK_SCALE = 12.0

#: Image input kinds (an integer per case in batches).
NO_IMAGE, MRI, MAMMOGRAM = 0, 1, 2
IMAGE_KINDS = ("none", "mri", "mammogram")
MRI_TARGET_TIMES_S = (0.0, 90.0, 360.0)


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
        return np.array([groups[o] == group if o in groups else (o == "subtype" and
                                                                 group == "clinical")
                         for o in self.owners])


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


def _encode_block(specs: Sequence[Feature], codes: dict[str, np.ndarray],
                  groups: tuple[Group, ...]) -> dict[str, np.ndarray]:
    """Per feature: (N, K + 1) encoded values plus present-flag; dropped groups are missing."""
    out = {}
    for spec in specs:
        column = codes[spec.name]
        if spec.group not in groups:
            column = np.full_like(column, np.nan)
        values, present = encode_column(spec, column)
        out[spec.name] = np.concatenate([values, present[:, None].astype(np.float32)], axis=1)
    return out


def encode_sequences(cases: pd.DataFrame, timepoints: pd.DataFrame,
                     groups: tuple[Group, ...] = ("clinical", "genomic")) -> EncodedSequences:
    """Encode every case's sequence.

    Args:
        cases: ``case_id`` + static features (raw values as in cases.csv; '' or NaN missing).
        timepoints: ``case_id, time_point, week`` + dynamic features; rows of one case in any
            order; a case's sequence is its observed time points in T0..T3 order.
        groups: feature groups the model may see; the others are encoded as missing.

    Raises:
        InvalidCase: a value outside the schema (message names feature and value), or a case
            without a T0 row.
    """
    n = len(cases)
    ids = cases["case_id"].astype(str).tolist()
    static_codes = {s.name: column_codes(s, cases[s.name]) if s.name in cases else
                    np.full(n, np.nan) for s in STATIC_FEATURES}
    static = _encode_block(STATIC_FEATURES, static_codes, groups)
    subtype = subtype_of(static_codes["er_percent"], static_codes["pr_percent"],
                         static_codes["her2_status"])
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
    dynamic_codes = {s.name: column_codes(s, tp[s.name].reset_index(drop=True)) if s.name in tp
                     else np.full(len(tp), np.nan) for s in DYNAMIC_FEATURES}
    dynamic = _encode_block(DYNAMIC_FEATURES, dynamic_codes, groups)
    weeks = pd.to_numeric(tp["week"], errors="coerce").to_numpy(dtype=np.float64) \
        if "week" in tp else np.full(len(tp), np.nan)
    nominal = np.array([0.0, 3.0, 6.0, 12.0])[tp["_order"].to_numpy()]
    weeks = np.where(np.isnan(weeks), nominal, weeks)

    values = np.zeros((n, MAX_TIME_POINTS, LAYOUT.width), dtype=np.float32)
    rows = np.zeros((len(tp), LAYOUT.width), dtype=np.float32)
    column = 0
    for spec in FEATURES:
        block = dynamic[spec.name] if spec.timing == "dynamic" else static[spec.name][case_index]
        rows[:, column:column + block.shape[1]] = block
        column += block.shape[1]
    rows[:, column:column + len(SUBTYPES)] = subtype_onehot[case_index]
    rows[:, -1] = weeks / WEEK_SCALE
    values[case_index, step] = rows
    return EncodedSequences(values, lengths.astype(np.int64), tuple(ids))


def truncate(values: np.ndarray, lengths: np.ndarray, new_lengths: np.ndarray
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


def _square_resize(image: np.ndarray, size: int) -> np.ndarray:
    """(C, H, W) -> (C, size, size): zero-pad to a square, then area-average (anti-aliased)."""
    channels, height, width = image.shape
    side = max(height, width)
    padded = np.zeros((channels, side, side), dtype=np.float32)
    top, left = (side - height) // 2, (side - width) // 2
    padded[:, top:top + height, left:left + width] = image
    if side == size:
        return padded
    tensor = torch.from_numpy(padded)[None]  # (1, C, side, side)
    mode = "area" if side > size else "bilinear"
    resized = F.interpolate(tensor, size=(size, size), mode=mode,
                            **({} if mode == "area" else {"align_corners": False}))
    return resized[0].numpy()


def dce_phase_indices(times_s: Sequence[float | None]) -> tuple[int, int, int]:
    """Which phases serve as pre, early and late: the first phase, then the phases nearest to
    90 s and 360 s after it (by order when times are unknown).

    Raises:
        UnsupportedImage: fewer than two phases (no contrast dynamics to read).
    """
    count = len(times_s)
    if count < 2:
        raise UnsupportedImage(f"a DCE-MRI needs at least 2 phases (pre- and post-contrast), "
                               f"this study has {count}")
    if count == 2:
        return 0, 1, 1
    if any(t is None for t in times_s):
        return 0, 1, count - 1
    times = np.asarray(times_s, dtype=float) - float(times_s[0])
    later = np.arange(1, count)
    early = int(later[np.argmin(np.abs(times[1:] - MRI_TARGET_TIMES_S[1]))])
    late_candidates = later[later != early]
    late = int(late_candidates[np.argmin(np.abs(times[late_candidates] - MRI_TARGET_TIMES_S[2]))])
    if late < early:
        late = early
    return 0, early, late


def image_input(study: Study, size: int = IMAGE_SIZE) -> tuple[int, np.ndarray]:
    """The model's image input for a study: ``(kind, image)`` with kind :data:`MRI` and image
    (3, size, size), or kind :data:`MAMMOGRAM` and image (1, size, size); float32 in [0, 1].

    Raises:
        UnsupportedImage: a modality the model does not read (CT, ...), or a DCE-MRI with one
            phase.
    """
    if study.kind == "mri":
        chosen = dce_phase_indices([p.time_s for p in study.phases])
        image = study.image[list(chosen)]
        return MRI, _square_resize(image.astype(np.float32), size)
    if study.kind == "mammogram":
        return MAMMOGRAM, _square_resize(study.image[:1].astype(np.float32), size)
    raise UnsupportedImage(f"the model reads DCE-MRI or mammograms, not {study.kind} "
                           f"({study.modality}) images")


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
    size = arrays.mri.shape[-1]
    out = np.zeros((len(rows), 3, size, size), dtype=np.float32)
    is_mri, is_mg = kinds == MRI, kinds == MAMMOGRAM
    out[is_mri] = arrays.mri[rows[is_mri]]
    out[is_mg, :1] = arrays.mammogram[rows[is_mg]]
    return torch.from_numpy(out)
