"""The shared window, modality codes and default slice, on tiny arrays with known answers."""

from __future__ import annotations

import numpy as np
import pytest

from mmcrnet.io.modality import normalise_modality, study_kind
from mmcrnet.io.phase import Phase
from mmcrnet.io.slices import default_slice
from mmcrnet.io.window import apply_window, percentile_window


def test_percentile_window_widens_a_flat_image() -> None:
    assert percentile_window([np.full((1, 2, 2), 7.0)]) == (7.0, 8.0)


def test_apply_window_maps_to_unit_range_read_only() -> None:
    stack = np.array([[[0.0, 5.0, 10.0, 20.0]]])  # (1, 1, 4)
    (plain,) = apply_window([stack], (0.0, 10.0), invert=False)
    (inverted,) = apply_window([stack], (0.0, 10.0), invert=True)
    np.testing.assert_allclose(plain, [[[0.0, 0.5, 1.0, 1.0]]])
    np.testing.assert_allclose(inverted, [[[1.0, 0.5, 0.0, 0.0]]])
    assert plain.dtype == np.float32 and not plain.flags.writeable


@pytest.mark.parametrize(
    ("given", "code"), [("mri", "MR"), (" Mammo ", "MG"), ("ct", "CT"), ("", None), (None, None)]
)
def test_normalise_modality(given: str | None, code: str | None) -> None:
    assert normalise_modality(given) == code


def test_study_kind() -> None:
    assert study_kind("MR", set(), set()) == "mri"
    assert study_kind("DX", {"BREAST"}, set()) == "mammogram"
    assert study_kind("OT", set(), set()) == "other"


def test_default_slice_follows_enhancement() -> None:
    pre = np.zeros((3, 2, 2), dtype=np.float32)  # (S, H, W)
    post = pre.copy()
    post[2, 0, 0] = 1.0  # one enhancing pixel, above the 95th percentile
    phases = [Phase("pre", 0, 0.0, pre), Phase("post", 1, 60.0, post)]
    assert default_slice(phases) == 2
    assert default_slice(phases[:1]) == 1  # one phase: the middle slice
