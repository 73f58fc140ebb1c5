"""The renderer draws what cohort-spec section 5 says: checked on the pixels and the masks."""

from __future__ import annotations

import numpy as np
import pytest

from mmcrnet.phantom.images import MG_BITS, MRI_PIXEL_MM, render_case

BASE = dict(
    tumor_diameter_cm=3.0, heterogeneity=0.0, rim=0.0, irregularity=0.0, washout=0.45, bpe=0.2
)


def render(**changes: float):
    return render_case(seed=1, case_index=0, **{**BASE, **changes})


def tumour_means(images) -> np.ndarray:
    """Mean of each phase inside the eroded tumour mask: (3,)."""
    from scipy.ndimage import binary_erosion

    core = binary_erosion(images.mri_mask, iterations=2)
    return images.mri[:, core].astype(float).mean(axis=1)


def test_same_case_same_pixels_other_case_differs() -> None:
    a, b = render(), render()
    np.testing.assert_array_equal(a.mri, b.mri)
    np.testing.assert_array_equal(a.mammogram, b.mammogram)
    other = render_case(seed=1, case_index=1, **BASE)
    assert not np.array_equal(a.mri, other.mri)


def test_shapes_and_types() -> None:
    images = render()
    assert images.mri.shape == (3, 224, 224) and images.mri.dtype == np.uint16
    assert images.mammogram.shape == (224, 224) and images.mammogram.dtype == np.uint16
    assert images.mammogram.max() < 2**MG_BITS
    assert images.photometric in ("MONOCHROME1", "MONOCHROME2")


@pytest.mark.parametrize("diameter", [1.5, 3.0, 6.0])
def test_round_tumour_mask_has_the_true_size(diameter: float) -> None:
    images = render(tumor_diameter_cm=diameter)
    radius_px = diameter * 10 / 2 / MRI_PIXEL_MM
    assert images.mri_mask.sum() == pytest.approx(np.pi * radius_px**2, rel=0.05)


def test_early_enhancement_and_washout() -> None:
    persistent = tumour_means(render(washout=0.0))
    washing = tumour_means(render(washout=1.0))
    assert persistent[1] / persistent[0] == pytest.approx(2.2, rel=0.08)  # ~120 % enhancement
    assert persistent[2] / persistent[1] == pytest.approx(1.25, rel=0.05)  # type I: keeps rising
    assert washing[2] / washing[1] == pytest.approx(0.75, rel=0.05)  # type III: falls


def test_rim_cuts_the_core_enhancement_by_80_percent() -> None:
    def core_enhancement(rim: float) -> float:
        images = render(rim=rim, tumor_diameter_cm=5.0)
        rows, cols = np.nonzero(images.mri_mask)
        r, c = int(rows.mean()), int(cols.mean())
        patch = images.mri[:, r - 3 : r + 4, c - 3 : c + 4].astype(float)
        return float(patch[1].mean() - patch[0].mean())

    assert core_enhancement(1.0) == pytest.approx(0.2 * core_enhancement(0.0), rel=0.25)


def test_heterogeneity_adds_texture() -> None:
    def spread(images) -> float:
        from scipy.ndimage import binary_erosion

        core = binary_erosion(images.mri_mask, iterations=3)
        values = images.mri[1, core].astype(float)
        return values.std() / values.mean()

    assert spread(render(heterogeneity=1.0)) > 3 * spread(render(heterogeneity=0.0))


def test_irregularity_grows_spicules_beyond_the_body() -> None:
    smooth = render(irregularity=0.0).mri_mask
    spiculated = render(irregularity=1.0).mri_mask

    def reach(mask: np.ndarray) -> float:
        rows, cols = np.nonzero(mask)
        return float(np.hypot(rows - rows.mean(), cols - cols.mean()).max())

    radius_px = 3.0 * 10 / 2 / MRI_PIXEL_MM
    assert reach(smooth) == pytest.approx(radius_px, rel=0.1)
    assert reach(spiculated) > 1.6 * radius_px


def test_bpe_enhances_fibroglandular_tissue_only() -> None:
    low, high = render(bpe=0.0), render(bpe=1.0)
    outside = ~high.mri_mask & (high.mri[0] > 250)  # fibroglandular tissue before contrast
    gain_low = low.mri[1, outside].mean() / low.mri[0, outside].mean()
    gain_high = high.mri[1, outside].mean() / high.mri[0, outside].mean()
    assert gain_low == pytest.approx(1.0, abs=0.05)
    assert gain_high > 1.35
    np.testing.assert_array_equal(low.mri_mask, high.mri_mask)


def test_mammogram_mass_is_dense_in_either_photometric() -> None:
    for index in range(6):
        images = render_case(seed=3, case_index=index, **BASE)
        shown = images.mammogram.astype(float)
        if images.photometric == "MONOCHROME1":
            shown = (2**MG_BITS - 1) - shown
        from scipy.ndimage import binary_dilation

        mask = images.mammogram_mask
        ring = binary_dilation(mask, iterations=6) & ~binary_dilation(mask, iterations=2)
        assert shown[mask].mean() > shown[ring].mean() + 200
