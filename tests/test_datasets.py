"""Cohort folders and phantom cohorts become the same model-ready arrays."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from mmcrnet.data import IMAGE_SIZE
from mmcrnet.datasets import cohort_case_set, phantom_case_set, split_rows, subset
from mmcrnet.errors import InvalidCohort


def test_cohort_folder_reads_like_the_phantom_it_came_from(
    small_cohort_dir: Path, tmp_path: Path
) -> None:
    from_folder = cohort_case_set(small_cohort_dir)
    in_memory = phantom_case_set(4, 11, workers=1)
    assert from_folder.case_ids == in_memory.case_ids
    assert from_folder.images.mri.shape == (4, 3, IMAGE_SIZE, IMAGE_SIZE)
    assert from_folder.images.has_mri.all() and from_folder.images.has_mammogram.all()
    np.testing.assert_array_equal(from_folder.images.mri, in_memory.images.mri)
    np.testing.assert_array_equal(from_folder.labels, in_memory.labels)
    np.testing.assert_allclose(from_folder.sequences.values, in_memory.sequences.values, atol=1e-6)
    assert from_folder.truth is not None
    assert from_folder.source["kind"] == "cohort"


def test_cases_without_images_are_marked(small_cohort_dir: Path, tmp_path: Path) -> None:
    copy = tmp_path / "cohort"
    shutil.copytree(small_cohort_dir, copy)
    shutil.rmtree(copy / "images" / "PH00001")
    (copy / "images" / "PH00002" / "mammogram.dcm").unlink()
    cases = cohort_case_set(copy)
    assert cases.images.has_mri.tolist() == [True, False, True, True]
    assert cases.images.has_mammogram.tolist() == [True, False, False, True]
    assert not cases.images.mri[1].any()


def test_bad_cohort_is_reported_before_any_image_is_read(tmp_path: Path) -> None:
    (tmp_path / "cases.csv").write_text("case_id,age\nA,old\n")
    (tmp_path / "timepoints.csv").write_text("case_id,time_point\nA,T0\n")
    (tmp_path / "outcomes.csv").write_text("case_id,response\nA,pCR\n")
    with pytest.raises(InvalidCohort, match="cases.csv line 2 column 'age'"):
        cohort_case_set(tmp_path)


def test_split_is_70_15_15_and_seeded() -> None:
    train, val, test = split_rows(1000, 3)
    assert (len(train), len(val), len(test)) == (700, 150, 150)
    assert len(set(train) | set(val) | set(test)) == 1000
    np.testing.assert_array_equal(split_rows(1000, 3)[0], train)
    assert not np.array_equal(split_rows(1000, 4)[0], train)


def test_train_command_on_a_cohort_folder(
    small_cohort_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The CLI refuses a 4-case cohort in one line and trains from a 24-case folder, writing
    weights + card (1 epoch)."""
    from mmcrnet.__main__ import main
    from mmcrnet.phantom.writer import write_cohort

    out = tmp_path / "model"
    refused = ["train", "--cohort", str(small_cohort_dir), "--seed", "2", "--out", str(out)]
    assert main(refused) == 2
    assert "too small to train on" in capsys.readouterr().err
    cohort = tmp_path / "cohort"
    write_cohort(cohort, 24, 11, images=True, workers=1)
    assert (
        main(
            [
                "train",
                "--cohort",
                str(cohort),
                "--seed",
                "2",
                "--out",
                str(out),
                "--epochs",
                "1",
                "--threads",
                "2",
            ]
        )
        == 0
    )
    summary = json.loads(capsys.readouterr().out)
    assert summary["epochs_run"] == 1
    card = json.loads((out / "model.json").read_text())
    assert card["training_source"]["kind"] == "cohort" and card["synthetic"] is True
    assert (out / "model.safetensors").is_file()


def test_a_recorded_cohort_that_is_gone_is_named(tmp_path: Path) -> None:
    from mmcrnet.datasets import training_case_set
    from mmcrnet.errors import InvalidCohort

    card = {"training_source": {"kind": "cohort", "path": str(tmp_path / "gone")}}
    with pytest.raises(InvalidCohort, match="recorded in its card, is gone"):
        training_case_set(card)
    assert training_case_set({}) is None


def test_cached_images_stream_from_disk_and_equal_a_render(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    cached = phantom_case_set(12, 21, cache=cache, workers=2)
    in_memory = phantom_case_set(12, 21, workers=1)
    assert isinstance(cached.images.mri, np.memmap) and not cached.images.mri.flags.writeable
    assert np.array_equal(cached.images.mri, in_memory.images.mri)
    assert np.array_equal(cached.images.mammogram, in_memory.images.mammogram)
    # a render cut short (no key.json written last) is rendered again, never read as whole
    (cache / "key.json").unlink()
    np.lib.format.open_memmap(cache / "mri.npy", "r+")[:] = 0
    again = phantom_case_set(12, 21, cache=cache, workers=1)
    assert np.array_equal(again.images.mri, in_memory.images.mri)


def test_a_cohort_without_images_takes_no_image_memory() -> None:
    cases = phantom_case_set(50, 21, images=False)
    assert not cases.images.has_mri.any() and not cases.images.has_mammogram.any()
    assert cases.images.mri.shape == (50, 3, IMAGE_SIZE, IMAGE_SIZE)
    part = subset(cases, np.arange(0, 50, 2))
    for images in (cases.images, part.images):
        assert images.mri.strides[0] == 0 and images.mammogram.strides[0] == 0
    assert part.images.mri.shape[0] == 25 and not part.images.mri.any()
