"""The training cohort's *reference patient*, stored in the model card: the mean of every
encoded input over the training split, per time point (the baseline of the sequence
attributions, :mod:`mmcrnet.explain.sequence`), and the typical raw values for people.

Training computes it; explanations read it. It lives below both, so training never imports
the explanations.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from mmcrnet.data import LAYOUT, encode_sequences
from mmcrnet.features import (
    DYNAMIC_FEATURES,
    FEATURES_BY_NAME,
    STATIC_FEATURES,
    TIME_POINTS,
    WEEKS,
    column_codes,
)

#: Feature name -> its present-flag column in the sequence layout.
PRESENT_COLUMN = {owner: LAYOUT.names.index(f"{owner}:present") for owner in FEATURES_BY_NAME}


def reference_patient(
    cases: pd.DataFrame,
    timepoints: pd.DataFrame,
    groups: Sequence[str] = ("clinical", "genomic"),
) -> dict[str, object]:
    """The reference patient of a (training) cohort, for the model card.

    Returns:
        ``{"columns": [...], "mean_encoding": (T, F) nested list, "typical": {...}}``: the mean
        encoded input at each time point T0..T3 (the IG baseline; see :func:`mean_encoding`),
        and, for people, the typical raw values (median of numeric features, most frequent
        value of the others; per time point for the dynamic ones).
    """
    encoded = encode_sequences(cases, timepoints, groups)
    labels = _row_time_points(encoded.case_ids, timepoints)  # (N, T) index into TIME_POINTS
    mean = np.zeros((len(TIME_POINTS), LAYOUT.width), dtype=np.float64)
    for t in range(len(TIME_POINTS)):
        mean[t] = mean_encoding(encoded.values[labels == t])
    static: dict[str, object] = {}
    for spec in STATIC_FEATURES:
        codes = column_codes(spec, cases[spec.name]) if spec.name in cases else np.array([])
        static[spec.name] = _typical(spec.name, codes)
    rows = []
    for tp, week in zip(TIME_POINTS, WEEKS):
        at = timepoints[timepoints["time_point"] == tp]
        row: dict[str, object] = {"time_point": tp, "week": week}
        for spec in DYNAMIC_FEATURES:
            codes = column_codes(spec, at[spec.name]) if spec.name in at else np.array([])
            row[spec.name] = _typical(spec.name, codes)
        rows.append(row)
    return {
        "columns": list(LAYOUT.names),
        "mean_encoding": np.round(mean, 6).tolist(),
        "typical": {"static": static, "timepoints": rows},
    }


def mean_encoding(rows: np.ndarray) -> np.ndarray:
    """The mean patient of encoded rows (M, F) -> (F,): each feature's value columns averaged
    over the rows where it is present, its present-flag 1 (0 if never present); the subtype
    over rows where it is known; zeros for no rows."""
    out = np.zeros(LAYOUT.width, dtype=np.float64)
    if len(rows) == 0:
        return out
    for owner, flag in PRESENT_COLUMN.items():
        present = rows[:, flag] == 1
        if present.any():
            columns = [c for c in LAYOUT.columns_of(owner) if c != flag]
            out[columns] = rows[present][:, columns].mean(axis=0)
            out[flag] = 1.0
    subtype = LAYOUT.columns_of("subtype")
    known = rows[:, subtype].sum(axis=1) == 1
    if known.any():
        out[subtype] = rows[known][:, subtype].mean(axis=0)
    # The week column stays 0: baselines keep the case's own weeks (baseline_for).
    return out


def _row_time_points(case_ids: tuple[str, ...], timepoints: pd.DataFrame) -> np.ndarray:
    """(N, T): which time point (index into TIME_POINTS) each encoded row holds, -1 past the
    length; rows are a case's observed time points in T0..T3 order, as encode_sequences puts
    them."""
    out = np.full((len(case_ids), len(TIME_POINTS)), -1, dtype=np.int64)
    position = {c: i for i, c in enumerate(case_ids)}
    order = timepoints["time_point"].map({t: i for i, t in enumerate(TIME_POINTS)})
    frame = (
        pd.DataFrame({"case": timepoints["case_id"].astype(str).map(position), "order": order})
        .dropna()
        .astype(np.int64)
    )
    frame = frame.sort_values(["case", "order"], kind="stable")
    step = frame.groupby("case").cumcount().to_numpy()
    out[frame["case"].to_numpy(), step] = frame["order"].to_numpy()
    return out


def _typical(name: str, codes: np.ndarray) -> object:
    spec = FEATURES_BY_NAME[name]
    codes = codes[~np.isnan(codes)]
    if codes.size == 0:
        return None
    if spec.kind == "numeric":
        value = float(np.median(codes))
        return round(value) if spec.integer else round(value, 4)
    values, counts = np.unique(codes, return_counts=True)
    return spec.format(float(values[np.argmax(counts)]))
