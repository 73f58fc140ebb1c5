"""A phantom case's truth: read back as written, in words, refused where there is none."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mmcrnet import load_cohort
from mmcrnet.errors import InvalidArgument
from mmcrnet.teach.truth import (
    chemosensitivity_sentence,
    load_truth,
    property_sentence,
    tumour_properties,
)


def test_the_truth_is_read_back_as_written(examples) -> None:
    truth = load_truth(examples, "PH00001")
    table = pd.read_csv(examples.root / "truth" / "truth.csv").set_index("case_id")
    row = table.loc["PH00001"]
    assert truth.subtype == row["subtype"] == "HER2+"
    assert truth.outcome == "partial"
    assert truth.eta_full == pytest.approx(row["eta"] + row["u"])
    assert sum(truth.oracle.values()) == pytest.approx(1.0)
    assert truth.latents["washout"] == pytest.approx(row["washout"])
    assert truth.masks["mri"].shape == (224, 224) and 0 < truth.masks["mri"].mean() < 0.3
    assert set(truth.masks) == {"mri", "mammogram"}


def test_the_tumour_in_words_names_each_property_and_its_push(examples) -> None:
    truth = load_truth(examples, "PH00001")
    items = {p.name: p for p in tumour_properties(truth)}
    assert list(items) == ["size", "washout", "heterogeneity", "rim", "irregularity", "bpe"]
    assert items["size"].words.startswith(f"{truth.diameter_cm:.1f} cm across")
    # the push is the truth's own contribution: heterogeneity's coefficient is negative
    assert items["heterogeneity"].effect == pytest.approx(truth.contributions["heterogeneity"])
    assert "no effect" in property_sentence(items["bpe"])
    washout = truth.latents["washout"]
    expected = "type I " if washout < 0.4 else "type II " if washout <= 0.6 else "type III"
    assert expected in items["washout"].words
    assert f"u = {truth.u:+.2f}" in chemosensitivity_sentence(truth)


def test_a_real_cohort_has_no_truth(examples, tmp_path: Path) -> None:
    folder = tmp_path / "real"
    shutil.copytree(examples.root, folder, ignore=shutil.ignore_patterns("truth", "images"))
    with pytest.raises(InvalidArgument, match="only phantom cohorts have a known truth"):
        load_truth(load_cohort(folder), "PH00001")
    with pytest.raises(InvalidArgument, match="'PH99999' is not in"):
        load_truth(examples, "PH99999")


def test_masks_match_the_images_drawn(examples) -> None:
    from mmcrnet.teach.case import read_case

    _, study = read_case(examples, "PH00001", "mri")
    truth = load_truth(examples, "PH00001")
    early, pre = study.phases[1].volume[0], study.phases[0].volume[0]
    enhancement = early - pre
    assert (
        enhancement[truth.masks["mri"]].mean() > 3 * np.abs(enhancement[~truth.masks["mri"]]).mean()
    )
