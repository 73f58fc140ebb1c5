"""Preprocessing: the phase choice, the slice, the geometry and its exact inverse."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from mmcrnet.errors import UnsupportedImage
from mmcrnet.io import read_paths
from mmcrnet.preprocess import (
    IMAGE_SIZE,
    MAMMOGRAM,
    MRI,
    Geometry,
    ModelPhase,
    dce_phase_indices,
    image_input,
    model_image,
)


@pytest.mark.parametrize(
    "times, expected",
    [
        ([0, 90, 360], (0, 1, 2)),
        ([0, 60, 95, 180, 365, 480], (0, 2, 4)),
        ([0, 100], (0, 1, 1)),
        ([None, None, None, None], (0, 1, 3)),
    ],
)
def test_dce_phase_choice(times: list, expected: tuple[int, int, int]) -> None:
    assert dce_phase_indices(times) == expected


def test_single_phase_mri_is_not_dce() -> None:
    with pytest.raises(UnsupportedImage, match="at least 2 phases"):
        dce_phase_indices([0.0])


def test_image_inputs_from_the_examples(examples_dir: Path) -> None:
    case = sorted((examples_dir / "images").iterdir())[0]
    kind, image = image_input(read_paths([case / "mri"]))
    assert kind == MRI and image.shape == (3, IMAGE_SIZE, IMAGE_SIZE)
    assert 0 <= image.min() and image.max() <= 1 and image[1].mean() > image[0].mean()
    kind, image = image_input(read_paths([case / "mammogram.dcm"]))
    assert kind == MAMMOGRAM and image.shape == (1, IMAGE_SIZE, IMAGE_SIZE)


def test_ct_is_not_read_by_the_model() -> None:
    from pydicom.data import get_testdata_file

    path = get_testdata_file("CT_small.dcm")
    assert path is not None
    with pytest.raises(UnsupportedImage, match="not ct"):
        image_input(read_paths([path]))


@pytest.mark.parametrize("shape", [(100, 200), (200, 100), (128, 128), (64, 64), (300, 301)])
def test_geometry_inverse_puts_a_point_back_where_it_was(shape: tuple[int, int]) -> None:
    geometry = Geometry(shape[0], shape[1], IMAGE_SIZE)
    image = np.zeros((1, *shape), dtype=np.float32)
    row, col = shape[0] // 3, (2 * shape[1]) // 3
    image[0, row - 2 : row + 3, col - 2 : col + 3] = 1.0
    forward = geometry.forward(image)
    assert forward.shape == (1, IMAGE_SIZE, IMAGE_SIZE)
    back = geometry.inverse(forward[0])
    assert back.shape == shape
    found = np.unravel_index(int(np.argmax(back)), shape)
    assert abs(found[0] - row) <= max(2, 1 / geometry.scale) and abs(found[1] - col) <= max(
        2, 1 / geometry.scale
    )


def test_geometry_records_the_padding() -> None:
    geometry = Geometry(100, 200, 128)
    assert (geometry.side, geometry.top, geometry.left) == (200, 50, 0)
    padded = geometry.forward(np.ones((1, 100, 200), dtype=np.float32))
    assert padded[0, :10].max() == 0 and padded[0, 60:68].min() == pytest.approx(1.0)
    with pytest.raises(ValueError, match="does not match"):
        geometry.forward(np.ones((1, 10, 10), dtype=np.float32))


def test_model_image_names_the_phases_it_read(examples_dir: Path) -> None:
    case = sorted((examples_dir / "images").iterdir())[0]
    study = read_paths([case / "mri"])
    image = model_image(study)
    assert [p.role for p in image.phases] == ["pre", "early", "late"]
    assert [p.index for p in image.phases] == list(
        dce_phase_indices([p.time_s for p in study.phases])
    )
    assert image.slice_index == study.slice_index
    assert all(p.label == study.phases[p.index].label for p in image.phases)
    assert image.to_dict()["geometry"]["height"] == study.image.shape[-2]


def test_caption_says_what_the_data_says() -> None:
    assert ModelPhase("early", 2, "phase 3", 85.0).caption == "early: phase 3, 85 s"
    assert ModelPhase("pre", 0, "pre", 0.0).caption == "pre: 0 s"
    assert ModelPhase("late", 2, "late", None).caption == "late"


def test_unassigned_phases_are_refused(examples_dir: Path) -> None:
    case = sorted((examples_dir / "images").iterdir())[0]
    study = read_paths([case / "mri"])
    if not hasattr(study, "phase_source"):
        pytest.skip("the reader does not record the phase source")
    unknown = dataclasses.replace(study, phase_source="unassigned")
    with pytest.raises(UnsupportedImage, match="phase of each image is not known"):
        model_image(unknown)
