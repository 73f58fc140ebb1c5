"""Render a phantom case's images (cohort-spec section 5): a three-phase DCE-MRI slice and a
craniocaudal mammogram of the same tumour, with the tumour masks as ground truth.

Each case draws from its own generator ``default_rng([seed, IMAGE_STREAM, case_index])``, so a
case looks the same whichever other cases are rendered, in whatever order or process.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.ndimage import gaussian_filter

IMAGE_STREAM = 5  # separates the image generators from the table generator
MRI_SIZE = 224
MRI_PIXEL_MM = 0.7
MRI_PHASE_TIMES_S = (0.0, 90.0, 360.0)
MRI_PHASE_LABELS = ("pre", "early", "late")
MG_SIZE = 224
MG_PIXEL_MM = 0.9
MG_BITS = 12

FAT, FIBROGLANDULAR = 100.0, 300.0
TUMOUR_ENHANCEMENT = 1.2  # early tumour signal = pre x (1 + 1.2)


@dataclass(frozen=True)
class TumourShape:
    """The tumour's outline, shared by both images (in millimetres, so any pixel size works)."""

    radius_mm: float
    irregularity: float
    harmonic_amplitudes: np.ndarray  # (6,) for k = 3..8, already divided by k
    harmonic_phases: np.ndarray  # (6,)
    spicule_angles: np.ndarray  # (S,)
    spicule_lengths_mm: np.ndarray  # (S,), zero when irregularity <= 0.5

    def radius_at(self, theta: np.ndarray) -> np.ndarray:
        """R(theta) in mm: R0 (1 + irregularity x sum_k a_k cos(k theta + phi_k))."""
        k = np.arange(3, 9)
        wave = np.tensordot(
            np.cos(theta[..., None] * k + self.harmonic_phases),
            self.harmonic_amplitudes,
            axes=([-1], [0]),
        )
        return self.radius_mm * np.maximum(1.0 + self.irregularity * wave, 0.3)

    def extent_mm(self) -> float:
        """A radius (mm) that contains the whole tumour, spicules included."""
        outline = self.radius_mm * (
            1.0 + self.irregularity * float(np.sum(self.harmonic_amplitudes))
        )
        return outline + float(np.max(self.spicule_lengths_mm, initial=0.0))

    def occupancy(
        self, size: int, centre: tuple[float, float], pixel_mm: float
    ) -> tuple[np.ndarray, np.ndarray]:
        """Fraction of each pixel of a (size, size) image inside the tumour, and r / R(theta)
        (for the rim), computed only in the box around the tumour.

        Args:
            size: image side in pixels.
            centre: (row, col) of the tumour centre in pixels.
            pixel_mm: pixel size; also the width of the soft (partial-volume) edge.
        Returns:
            ``(occupancy, relative_radius)``, both (size, size) float; relative_radius is
            inf outside the box.
        """
        occupancy = np.zeros((size, size))
        relative = np.full((size, size), np.inf)
        reach = self.extent_mm() / pixel_mm + 2
        r0, r1 = max(int(centre[0] - reach), 0), min(int(centre[0] + reach) + 2, size)
        c0, c1 = max(int(centre[1] - reach), 0), min(int(centre[1] + reach) + 2, size)
        if r0 >= r1 or c0 >= c1:
            return occupancy, relative
        yy, xx = np.mgrid[r0:r1, c0:c1].astype(np.float64)
        dx, dy = (xx - centre[1]) * pixel_mm, (yy - centre[0]) * pixel_mm
        r = np.hypot(dx, dy)
        boundary = self.radius_at(np.arctan2(dy, dx))
        body = np.clip((boundary - r) / pixel_mm + 0.5, 0.0, 1.0)
        for angle, length in zip(self.spicule_angles, self.spicule_lengths_mm):
            if length <= 0:
                continue
            start = 0.85 * float(self.radius_at(np.array(angle)))
            ux, uy = np.cos(angle), np.sin(angle)
            along = dx * ux + dy * uy
            across = np.abs(-dx * uy + dy * ux)
            t = np.clip((along - start) / length, 0.0, 1.0)
            half_width = pixel_mm * (1.0 - 0.7 * t)  # tapers from ~2 px wide to a point
            inside = (along >= start - pixel_mm) & (along <= start + length + 0.5 * pixel_mm)
            spike = np.where(inside, np.clip((half_width - across) / pixel_mm + 0.5, 0.0, 1.0), 0.0)
            body = np.maximum(body, spike)
        occupancy[r0:r1, c0:c1] = body
        relative[r0:r1, c0:c1] = r / boundary
        return occupancy, relative


@dataclass(frozen=True)
class PhantomImages:
    """One case's images and their truth.

    Attributes:
        mri: (3, 224, 224) uint16: pre, early (90 s), late (360 s) phases.
        mri_mask: (224, 224) bool tumour mask of the MRI slice.
        mammogram: (224, 224) uint16 *stored* values (inverted when MONOCHROME1).
        mammogram_mask: (224, 224) bool tumour mask of the mammogram.
        photometric: "MONOCHROME1" or "MONOCHROME2" for the mammogram.
        laterality: "L" or "R".
        mri_fibroglandular: (224, 224) float32 fibroglandular fraction (0..1) of the MRI slice,
            the tissue that background parenchymal enhancement (bpe, a null variable) lights.
    """

    mri: np.ndarray
    mri_mask: np.ndarray
    mammogram: np.ndarray
    mammogram_mask: np.ndarray
    photometric: str
    laterality: str
    mri_fibroglandular: np.ndarray


def _smooth_field(rng: np.random.Generator, shape: tuple[int, int], sigma: float) -> np.ndarray:
    """Gaussian-smoothed white noise scaled to unit standard deviation."""
    field = gaussian_filter(rng.standard_normal(shape), sigma=sigma, mode="reflect")
    return field / (field.std() + 1e-12)


def _fibroglandular(
    rng: np.random.Generator, breast: np.ndarray, sigma: float, density: float
) -> np.ndarray:
    """Fibroglandular fraction (0..1) of each pixel: a thresholded smooth random field."""
    field = _smooth_field(rng, breast.shape, sigma)
    threshold = np.quantile(field[breast > 0.5], 1.0 - density)
    return np.clip((field - threshold) / 0.15 + 0.5, 0.0, 1.0) * breast


def _tumour_shape(rng: np.random.Generator, diameter_cm: float, irregularity: float) -> TumourShape:
    k = np.arange(3, 9)
    amplitudes = rng.uniform(0.5, 1.0, k.size) / k
    phases = rng.uniform(0, 2 * np.pi, k.size)
    count = int(rng.integers(8, 13))
    angles = rng.uniform(0, 2 * np.pi, count)
    radius_mm = diameter_cm * 10.0 / 2.0
    growth = np.clip((irregularity - 0.5) / 0.5, 0.0, 1.0)
    lengths = 0.8 * radius_mm * growth * rng.uniform(0.5, 1.0, count)
    return TumourShape(radius_mm, irregularity, amplitudes, phases, angles, lengths)


def _place(
    rng: np.random.Generator, inside: np.ndarray, margin_px: float, fallback: tuple[float, float]
) -> tuple[float, float]:
    """A random (row, col) whose distance to the region's edge is at least ``margin_px``."""
    from scipy.ndimage import distance_transform_edt

    inside = inside.copy()
    inside[[0, -1], :] = inside[:, [0, -1]] = False  # keep the tumour off the image border
    depth = distance_transform_edt(inside)
    rows, cols = np.nonzero(depth >= margin_px)
    if rows.size == 0:
        return fallback
    pick = int(rng.integers(rows.size))
    return float(rows[pick]) + rng.uniform(-0.5, 0.5), float(cols[pick]) + rng.uniform(-0.5, 0.5)


def _rician(rng: np.random.Generator, signal: np.ndarray, sigma: float) -> np.ndarray:
    return np.hypot(signal + rng.normal(0, sigma, signal.shape), rng.normal(0, sigma, signal.shape))


def render_mri(
    rng: np.random.Generator,
    shape: TumourShape,
    heterogeneity: float,
    rim: float,
    washout: float,
    bpe: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The DCE-MRI slice: ``(phases (3, H, W) uint16, tumour mask (H, W) bool, fibroglandular
    fraction (H, W) float32)``."""
    n = MRI_SIZE
    yy, xx = np.mgrid[0:n, 0:n].astype(np.float64)
    # Breast: a half-ellipse standing on the chest wall at the bottom of the image.
    cx, wall = n / 2 + rng.uniform(-6, 6), n - rng.uniform(4, 12)
    half_width, depth = rng.uniform(88, 106), rng.uniform(160, 205)
    rho = np.sqrt(((xx - cx) / half_width) ** 2 + ((yy - wall) / depth) ** 2)
    breast = np.clip((1.0 - rho) * min(half_width, depth) + 0.5, 0.0, 1.0) * (yy <= wall)
    fg = _fibroglandular(rng, breast, sigma=7.0, density=rng.uniform(0.2, 0.6))
    tissue = breast * (FAT + (FIBROGLANDULAR - FAT) * fg)

    radius_px = shape.radius_mm / MRI_PIXEL_MM
    row, col = _place(rng, breast > 0.5, 1.15 * radius_px + 4, (wall - depth / 2, cx))
    occ, rel = shape.occupancy(n, (row, col), MRI_PIXEL_MM)
    occ = occ * (breast > 0.5)

    # Tumour enhancement: the rim darkens the core (r/R < 0.6), heterogeneity adds texture.
    core = 1.0 - np.clip((rel - 0.5) / 0.2, 0.0, 1.0)  # 1 inside r/R < 0.5, 0 beyond 0.7
    core = core * core * (3 - 2 * core)
    rim_factor = 1.0 - 0.8 * rim * core
    texture = np.maximum(1.0 + 0.6 * heterogeneity * _smooth_field(rng, (n, n), 2.0), 0.0)
    tumour_pre = FIBROGLANDULAR
    tumour_early = tumour_pre * (1.0 + TUMOUR_ENHANCEMENT * rim_factor * texture)
    tumour_late = tumour_early * (1.25 - 0.5 * washout)

    background = {
        "pre": tissue,
        "early": tissue + FIBROGLANDULAR * 0.6 * bpe * fg,
        "late": tissue + FIBROGLANDULAR * 0.9 * bpe * fg,
    }
    tumour = {"pre": tumour_pre, "early": tumour_early, "late": tumour_late}
    phases = np.stack([background[p] * (1 - occ) + tumour[p] * occ for p in MRI_PHASE_LABELS])
    sigma = 0.02 * phases.max()
    noisy = _rician(rng, phases, sigma)
    return (np.round(noisy).clip(0, 65535).astype(np.uint16), occ >= 0.5, fg.astype(np.float32))


def render_mammogram(
    rng: np.random.Generator, shape: TumourShape
) -> tuple[np.ndarray, np.ndarray, str, str]:
    """The CC mammogram: ``(stored values (H, W) uint16, mask (H, W) bool, photometric,
    laterality)``. Dense tissue is bright in the displayed image; heterogeneity, rim and washout
    are not visible."""
    n, pixel = MG_SIZE, MG_PIXEL_MM
    yy, xx = np.mgrid[0:n, 0:n].astype(np.float64)
    # Compressed breast seen from above: chest wall at the left edge, nipple to the right.
    centre_row = n / 2 + rng.uniform(-10, 10)
    reach, half_height = rng.uniform(150, 200), rng.uniform(85, 106)
    rho = np.sqrt((xx / reach) ** 2 + ((yy - centre_row) / half_height) ** 2)
    breast = np.clip((1.0 - rho) * min(reach, half_height) / 2 + 0.5, 0.0, 1.0)
    thickness = np.sqrt(np.clip(1.0 - rho**2, 0.0, 1.0)) ** 0.35 * breast  # thinner at the skin
    fg = _fibroglandular(rng, breast, sigma=9.0, density=rng.uniform(0.1, 0.7))
    fg = gaussian_filter(fg, sigma=1.5)

    radius_px = shape.radius_mm / pixel
    centre = _place(rng, breast > 0.5, 1.15 * radius_px + 6, (centre_row, reach / 2))
    occ, _ = shape.occupancy(n, centre, pixel)
    occ = occ * (breast > 0.5)

    density = 900.0 + 800.0 * fg + 900.0 * occ  # the mass is denser than glandular tissue
    image = density * thickness + rng.normal(0, 25.0, (n, n))
    mask = occ >= 0.5
    max_value = 2**MG_BITS - 1
    laterality = "L" if rng.random() < 0.5 else "R"
    if laterality == "R":  # right breast: chest wall on the right of the image
        image, mask = image[:, ::-1], mask[:, ::-1]
    photometric = "MONOCHROME1" if rng.random() < 0.5 else "MONOCHROME2"
    stored = np.round(image).clip(0, max_value)
    if photometric == "MONOCHROME1":
        stored = max_value - stored
    return stored.astype(np.uint16), np.ascontiguousarray(mask), photometric, laterality


def render_case(
    seed: int,
    case_index: int,
    tumor_diameter_cm: float,
    heterogeneity: float,
    rim: float,
    irregularity: float,
    washout: float,
    bpe: float,
) -> PhantomImages:
    """Render one case's MRI and mammogram from its truth (a row of ``PhantomCohort.truth``)."""
    rng = np.random.default_rng([seed, IMAGE_STREAM, case_index])
    shape = _tumour_shape(rng, tumor_diameter_cm, irregularity)
    mri, mri_mask, fibroglandular = render_mri(rng, shape, heterogeneity, rim, washout, bpe)
    mammogram, mg_mask, photometric, laterality = render_mammogram(rng, shape)
    return PhantomImages(mri, mri_mask, mammogram, mg_mask, photometric, laterality, fibroglandular)
