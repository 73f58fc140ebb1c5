"""The app's figures from a real explanation (tiny model): what they show and leave out."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from mmcrnet import ClinicalCase, Explainer, Predictor, read_paths
from ui import figures

from ..explain.test_sequence import STATIC, TIMEPOINTS


@pytest.fixture(scope="module")
def explanation(tiny_model_dir: Path, examples_dir: Path):
    study = read_paths([examples_dir / "images" / "PH00019" / "mri"])
    return Explainer(Predictor(tiny_model_dir, device="cpu"), steps=16).explain(
        ClinicalCase(STATIC, TIMEPOINTS), study
    )


def test_heatmap_leaves_out_features_that_never_matter(explanation) -> None:
    heatmap = figures.attribution_heatmap(explanation).data[0]
    assert list(heatmap.x) == ["T0 (week 0)", "T1 (week 3)", "T2 (week 6)"]
    assert "PGR expression" not in heatmap.y  # not given: no attribution, no row
    assert "Tumour diameter" in heatmap.y
    assert heatmap.zmin == -heatmap.zmax  # symmetric: white means no effect


def test_overlay_tints_red_towards_blue_away_and_nothing_where_there_is_no_evidence() -> None:
    image = np.full((8, 8), 0.5)
    cam = np.zeros((8, 8))
    cam[2, 3], cam[5, 5] = 1.0, -1.0
    picture = figures.overlay(image, cam, 0.4)
    assert picture.shape == (8, 8, 3) and picture.dtype == np.uint8
    gray = round(0.5 * 255)
    assert (picture[0, 0] == gray).all()  # no evidence, no tint
    np.testing.assert_array_equal(
        picture[2, 3], np.round(0.5 * 255 * 0.6 + figures.EVIDENCE_LUT[255] * 0.4)
    )
    np.testing.assert_array_equal(
        picture[5, 5], np.round(0.5 * 255 * 0.6 + figures.EVIDENCE_LUT[0] * 0.4)
    )
    red, blue = picture[2, 3].astype(int), picture[5, 5].astype(int)
    assert red[0] > red[2] and blue[2] > blue[0]
    assert not np.array_equal(figures.overlay(image, cam, 1.0)[2, 3], picture[2, 3])
    # The classic map: only the positive part.
    classic = figures.overlay(image, cam, 0.4, against=False)
    assert (classic[5, 5] == gray).all() and np.array_equal(classic[2, 3], picture[2, 3])


def test_colour_strip_runs_from_away_to_towards() -> None:
    strip = figures.colour_bar()
    assert strip.shape == (12, 256, 3)
    left, right = strip[0, 0].astype(int), strip[0, -1].astype(int)
    assert left[2] > left[0] and right[0] > right[2]  # blue to red
    towards_only = figures.colour_bar(against=False)
    assert towards_only[0, 0].astype(int).sum() > left.sum()  # starts at the pale middle


def test_reasons_read_in_words(explanation) -> None:
    bars = figures.top_reasons(explanation, k=5).data[0]
    assert len(bars.y) == 5 and all(": towards " in t or ": away from " in t for t in bars.y)
    assert len(figures.trajectory(explanation).data) == 3
    assert list(figures.modalities(explanation).data[0].x) == ["image", "clinical", "genomic"]


def test_modality_noise_is_drawn_as_zero_on_a_readable_scale(explanation) -> None:
    import dataclasses

    tiny = np.full_like(explanation.modalities.shapley, 1e-4)  # numerical noise
    noisy = dataclasses.replace(
        explanation, modalities=dataclasses.replace(explanation.modalities, shapley=tiny)
    )
    figure = figures.modalities(noisy)
    assert all(not np.any(bar.y) for bar in figure.data)
    low, high = figure.layout.yaxis.range
    assert high >= 0.1 and low == -high  # small values stay small
