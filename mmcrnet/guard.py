"""The out-of-distribution guard: says when an image or a value is one the model cannot judge,
so that no ordinary answer is shown for it.

Three checks, each a list of one-line reasons (empty = fine):

* **Header** (:func:`header_checks`): what the DICOM / raster says against what the model
  supports. The bundled model was trained on phantom images (``mmcrnet/phantom/writer.py``):
  axial DCE-MRI, 3 phases, 224 x 224 at 0.7 mm, and craniocaudal mammograms 224 x 224 at 0.9 mm,
  all BodyPartExamined BREAST. Supported ranges add margins taken from real breast imaging:

  ====================  =========================  ======================================
  check                 MRI                        mammogram
  ====================  =========================  ======================================
  modality              MR                         MG (DX/CR only when the reader took it
                                                   for a mammogram: body part BREAST)
  body part (if given)  BREAST                     BREAST
  rows and columns      128 to 1024 each           128 to 6000 each
  pixel spacing         0.35 to 1.4 mm (if known)  0.04 to 1.8 mm (if known)
  phases                at least 2                 -
  orientation           axial, slice normal within -
                        25 degrees of the patient
                        z axis (if known)
  ====================  =========================  ======================================

  MRI: breast DCE protocols acquire 256-512 matrices and some scanners interpolate to 1024;
  in-plane resolution is 0.5-1 mm (the ACR asks for <= 1 mm); 0.35-1.4 mm is the training
  0.7 mm halved and doubled. Below 128 pixels a side the 128 x 128 input would be upsampled
  from less than it shows. Mammograms: full-field detectors give 0.05-0.1 mm pixels and up to
  ~4700 x 5900 matrices; the phantom's 0.9 mm doubled is the coarse end. An empty or absent
  body part is not checked (many exports drop it).
* **Learned image check** (:class:`Guard`): the model's own image branch, read during its one
  forward pass (:data:`FEATURE_LAYERS`: the embedding plus per-block channel statistics and
  coarse spatial grids), against the same statistics of the model's training images, per image
  kind: per layer a mean and Ledoit-Wolf shrunk covariance fitted on the training split of the
  cohort named in the model card (images only, no outcomes) and a Mahalanobis distance in units
  of its held-out median; an image's distance is the largest of its layers'. It is flagged
  above a threshold that is the ``quantile`` (default 99 %) of the distances of held-out
  phantom cases (a seed that is neither the training cohort's nor the test seed 99), so about
  1 % of images like the training ones are flagged by design. The embedding alone is not
  enough: global average pooling makes it blind to a rotated image, noise and blur (measured
  on 30 test cases: 39 % of transformed phantom MRIs flagged by the embedding alone, and no
  rotated, noisy or blurred one).
* **Tabular** (:meth:`Guard.tabular_check`): each numeric value against the range the training
  split observed; a value outside ``[min - 10 % of the range, max + 10 % of the range]`` is
  "far outside the training range". Missingness: ``values_present`` of ``values_possible``
  (static features plus dynamic features at each given time point, for the feature groups
  the model reads); *heavy* missingness when fewer than half of the static features are
  given, because the carried-forward static block is most of what the sequence branch reads
  at every time point.

Files: ``MODEL/guard.safetensors`` (per kind ``<kind>.mean`` (E,), ``<kind>.precision`` (E, E))
and ``MODEL/guard.json`` (thresholds, quantile, cohorts, feature ranges, the supported header
ranges, the SHA-256 of the safetensors and of the model weights it was fitted for; both are
checked on load). Never pickle.
"""

from __future__ import annotations

import dataclasses
import io
import json
import math
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from safetensors import SafetensorError
from safetensors.numpy import load_file, save_file
from torch import nn

from mmcrnet.case import ClinicalCase
from mmcrnet.checkpoint import (
    CARD,
    InvalidModel,
    card_entry,
    load_model,
    read_card,
    read_json_object,
    sha256_of,
    weights_sha256,
)
from mmcrnet.errors import InvalidArgument, OncoPredictError, UnreadableImage
from mmcrnet.features import DYNAMIC_FEATURES, FEATURES, STATIC_FEATURES, Feature, column_codes
from mmcrnet.io import Phase, RawFile, Study, read_paths, read_study
from mmcrnet.model import MMCRNet
from mmcrnet.predict import PreparedInput
from mmcrnet.preprocess import IMAGE_KINDS, MAMMOGRAM, MRI, NO_IMAGE, image_input

GUARD_VERSION = 1
GUARD_WEIGHTS, GUARD_CARD = "guard.safetensors", "guard.json"
DEFAULT_QUANTILE = 0.99
RANGE_MARGIN = 0.10  # fraction of the training range added on each side before flagging
HEAVY_MISSING_FRACTION = 0.5  # heavy missingness: fewer than this share of static values given
AXIAL_TOLERANCE_DEG = 25.0  # MRI slice normal vs the patient z axis
SUPPORTED_BODY_PARTS: tuple[str, ...] = ("BREAST",)
LEARNED_KINDS: tuple[str, ...] = ("mri", "mammogram")
KIND_WORDS = {"mri": "MRI", "mammogram": "mammogram"}

ProgressCallback = Callable[[str], None]


@dataclass(frozen=True)
class SupportedGeometry:
    """What the model supports for one image kind (see the module docstring for the why)."""

    kind: str  # "mri" or "mammogram"
    modalities: tuple[str, ...]  # DICOM Modality codes accepted for this kind
    matrix: tuple[int, int]  # rows and columns, each within (inclusive)
    spacing_mm: tuple[float, float]  # pixel spacing (row and column), each within (inclusive)
    min_phases: int  # time points of the study

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


MRI_GEOMETRY = SupportedGeometry("mri", ("MR",), (128, 1024), (0.35, 1.4), 2)
MAMMOGRAM_GEOMETRY = SupportedGeometry("mammogram", ("MG", "DX", "CR"), (128, 6000), (0.04, 1.8), 1)
GEOMETRIES: dict[str, SupportedGeometry] = {"mri": MRI_GEOMETRY, "mammogram": MAMMOGRAM_GEOMETRY}
_PLANES = ("sagittal", "coronal", "axial")  # the patient axis (x, y, z) a slice normal lies along


def _orientation_problem(orientation: Sequence[float]) -> str | None:
    """A reason when an MRI's ImageOrientationPatient is not axial within the tolerance."""
    values = np.asarray(orientation, dtype=float)
    if values.shape != (6,) or not np.all(np.isfinite(values)):
        return None
    normal = np.cross(values[:3], values[3:])
    length = float(np.linalg.norm(normal))
    if length < 1e-6:
        return None
    normal /= length
    tilt = math.degrees(math.acos(min(1.0, abs(float(normal[2])))))
    if tilt <= AXIAL_TOLERANCE_DEG:
        return None
    plane = _PLANES[int(np.argmax(np.abs(normal)))]
    return (
        f"orientation {plane} (slice normal {tilt:.0f} degrees from axial): the model was "
        f"trained on axial slices (tolerance {AXIAL_TOLERANCE_DEG:g} degrees)"
    )


def header_checks(study: Study) -> tuple[str, ...]:
    """One line per header problem: what the study says vs what the model supports.

    Reads ``modality``, ``kind``, ``shape``, ``pixel_spacing_mm`` and, when the reader provides
    them, ``body_part`` and ``orientation`` (absent or empty = not checked). An unsupported
    modality gives its line (and the body part's) only: the geometry of a CT is beside the point.
    """
    lines: list[str] = []
    geometry = GEOMETRIES.get(study.kind)
    modality = (study.modality or "").strip().upper() or "unknown"
    if geometry is None or modality not in geometry.modalities:
        lines.append(
            f"modality {modality} ({study.kind}): the model reads breast DCE-MRI (MR) "
            "and mammograms (MG) only"
        )
    body_part = getattr(study, "body_part", None)
    if (
        body_part
        and str(body_part).strip()
        and str(body_part).strip().upper() not in SUPPORTED_BODY_PARTS
    ):
        lines.append(
            f"body part {str(body_part).strip()}: the model was trained on "
            f"{', '.join(SUPPORTED_BODY_PARTS)} images only"
        )
    if geometry is None or lines[:1] and lines[0].startswith("modality"):
        return tuple(lines)
    phases, _, rows, columns = study.shape
    name = "MRI" if geometry.kind == "mri" else "mammograms"
    lo, hi = geometry.matrix
    if not (lo <= rows <= hi and lo <= columns <= hi):
        lines.append(
            f"matrix {rows} x {columns} pixels: the model supports {lo} to {hi} pixels "
            f"a side for {name}"
        )
    spacing = study.pixel_spacing_mm
    s_lo, s_hi = geometry.spacing_mm
    if spacing is not None and not all(s_lo <= s <= s_hi for s in spacing):
        lines.append(
            f"pixel spacing {spacing[0]:g} x {spacing[1]:g} mm: the model supports "
            f"{s_lo:g} to {s_hi:g} mm for {name}"
        )
    if phases < geometry.min_phases:
        lines.append(
            f"{phases} phase{'s' if phases != 1 else ''}: a DCE-MRI needs at least "
            f"{geometry.min_phases} (pre- and post-contrast)"
        )
    orientation = getattr(study, "orientation", None)
    if geometry.kind == "mri" and orientation:
        problem = _orientation_problem(orientation)
        if problem:
            lines.append(problem)
    return tuple(lines)


# --- the learned image check --------------------------------------------------------------------

#: The image-branch statistics the learned check reads, one Gaussian each (names of
#: :func:`image_features`): per conv block the channel means and spatial standard deviations
#: (block 4's means are the embedding itself), and the 2 x 2 grid of channel means of blocks 3
#: and 4. Global average pooling alone is blind to where things are (a rotated breast has the
#: same pooled embedding) and to fine texture (noise, blur): the early blocks and the grids see it.
FEATURE_LAYERS: tuple[str, ...] = (
    "block1",
    "block2",
    "block3",
    "block4",
    "block3_grid",
    "block4_grid",
)


@dataclass(frozen=True, eq=False)
class EmbeddingDensity:
    """A Gaussian over one feature layer: mean (E,), precision (E, E), and ``scale``, the
    held-out median distance that :class:`ImageDensity` divides by (1 = raw Mahalanobis)."""

    mean: np.ndarray
    precision: np.ndarray
    scale: float = 1.0

    def distances(self, embeddings: np.ndarray) -> np.ndarray:
        """Mahalanobis distances of (N, E) embeddings -> (N,)."""
        centred = np.asarray(embeddings, dtype=np.float64) - self.mean  # (N, E)
        squared = np.einsum("ne,ef,nf->n", centred, self.precision, centred)
        return np.sqrt(np.maximum(squared, 0.0))


@dataclass(frozen=True, eq=False)
class ImageDensity:
    """One image kind: a Gaussian per feature layer; an image's distance is the largest of its
    layer distances, each in units of that layer's held-out median; flagged above ``threshold``."""

    layers: dict[str, EmbeddingDensity]
    threshold: float

    def scores(self, features: Mapping[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """``(distance (N,), index into layers of the largest (N,))`` of (N, D_l) features."""
        relative = np.stack(
            [
                density.distances(features[name]) / density.scale
                for name, density in self.layers.items()
            ],
            axis=1,
        )  # (N, L)
        return relative.max(axis=1), relative.argmax(axis=1)


def fit_gaussian(embeddings: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean (E,) and precision (E, E) of (N, E) embeddings, Ledoit-Wolf shrunk covariance.

    Raises:
        ValueError: fewer than 2 rows, or not a 2-d array.
    """
    from sklearn.covariance import LedoitWolf

    x = np.asarray(embeddings, dtype=np.float64)
    if x.ndim != 2 or x.shape[0] < 2:
        raise ValueError(f"embeddings of shape {x.shape}: need (N, E) with N >= 2")
    estimate = LedoitWolf().fit(x)
    return estimate.location_, np.linalg.inv(estimate.covariance_)


@contextmanager
def _block_outputs(model: MMCRNet) -> Iterator[dict[int, list[torch.Tensor]]]:
    """Record every conv block's output of both image encoders while the context is open
    (hooks removed on exit): kind -> [block 1 (B, C1, h1, w1), ..., block 4]."""
    recorded: dict[int, list[torch.Tensor]] = {MRI: [], MAMMOGRAM: []}
    caller = threading.get_ident()  # the model is shared: other threads' passes are not ours

    def recorder(kind: int) -> Callable[[nn.Module, object, torch.Tensor], None]:
        def record(_module: nn.Module, _inputs: object, output: torch.Tensor) -> None:
            if threading.get_ident() == caller:
                recorded[kind].append(output)

        return record

    handles = []
    for kind, encoder in ((MRI, model.mri_encoder), (MAMMOGRAM, model.mammogram_encoder)):
        for block in encoder.blocks:
            handles.append(block.register_forward_hook(recorder(kind)))
    try:
        yield recorded
    finally:
        for handle in handles:
            handle.remove()


def _layer_statistics(blocks: Sequence[torch.Tensor]) -> dict[str, np.ndarray]:
    """:data:`FEATURE_LAYERS` of one kind's block outputs -> name -> (B, D) float64."""
    out = {
        f"block{i + 1}": torch.cat([b.mean((2, 3)), b.std((2, 3))], dim=1)
        for i, b in enumerate(blocks)
    }  # (B, 2 C)
    for i in (len(blocks) - 2, len(blocks) - 1):
        out[f"block{i + 1}_grid"] = torch.nn.functional.adaptive_avg_pool2d(blocks[i], 2).flatten(
            1
        )  # (B, 4 C)
    return {name: out[name].double().cpu().numpy() for name in FEATURE_LAYERS}


@torch.no_grad()
def image_features(
    model: MMCRNet, images: np.ndarray | torch.Tensor, kind: int, batch_size: int = 256
) -> dict[str, np.ndarray]:
    """The image branch's statistics (:data:`FEATURE_LAYERS`) of (N, C, S, S) inputs of one
    kind (C = 3, or 1 for mammograms), one forward of ``model.image_branch`` per batch.

    Returns:
        layer name -> (N, D_layer) float64.
    """
    if not model.config.uses_image:
        raise ValueError(f"model variant '{model.config.variant}' reads no image")
    device = next(model.parameters()).device
    parts: list[dict[str, np.ndarray]] = []
    for start in range(0, len(images), batch_size):
        chunk = images[start : start + batch_size]
        chunk = (
            chunk.float()
            if isinstance(chunk, torch.Tensor)
            else torch.from_numpy(np.asarray(chunk, dtype=np.float32))
        )  # (B, C, S, S)
        if chunk.shape[1] < 3:  # mammograms: channel 0 only, padded like Predictor.prepare
            chunk = torch.nn.functional.pad(chunk, (0, 0, 0, 0, 0, 3 - chunk.shape[1]))
        kinds = torch.full((chunk.shape[0],), kind, dtype=torch.long, device=device)
        with _block_outputs(model) as recorded:
            model.image_branch(chunk.to(device), kinds)
        parts.append(_layer_statistics(recorded[kind]))
    return {name: np.concatenate([p[name] for p in parts]) for name in FEATURE_LAYERS}


@torch.no_grad()
def logits_and_image_features(
    model: MMCRNet, prepared: PreparedInput
) -> tuple[torch.Tensor, dict[str, np.ndarray] | None]:
    """One forward pass of a prepared case: its logits (1, 3) and, with an image, the image
    branch's statistics the guard measures (what :func:`image_features` gives), recorded on
    the way."""
    kind = int(prepared.kind[0])
    with _block_outputs(model) as recorded:
        logits = model(prepared.image, prepared.kind, prepared.sequence, prepared.length)
    features = _layer_statistics(recorded[kind]) if kind != NO_IMAGE and recorded[kind] else None
    return logits, features


def fit_image_density(
    train: Mapping[str, np.ndarray],
    held_out: Mapping[str, np.ndarray],
    quantile: float = DEFAULT_QUANTILE,
) -> tuple[ImageDensity, np.ndarray]:
    """Gaussians on ``train`` features, scales and threshold from ``held_out`` features.

    Returns:
        ``(density, held-out distances (N,))``.
    """
    layers = {}
    for name in train:
        mean, precision = fit_gaussian(train[name])
        raw = EmbeddingDensity(mean, precision).distances(held_out[name])
        layers[name] = EmbeddingDensity(mean, precision, float(np.median(raw)))
    unthresholded = ImageDensity(layers, math.inf)
    distances, _ = unthresholded.scores(held_out)
    return ImageDensity(layers, float(np.quantile(distances, quantile))), distances


# --- tabular ------------------------------------------------------------------------------------


def training_ranges(
    cases: pd.DataFrame, timepoints: pd.DataFrame
) -> dict[str, tuple[float, float]]:
    """Per numeric feature the (min, max) of the observed values in these tables."""
    ranges: dict[str, tuple[float, float]] = {}
    for spec in FEATURES:
        if spec.kind != "numeric":
            continue
        table = cases if spec.timing == "static" else timepoints
        if spec.name not in table:
            continue
        codes = column_codes(spec, table[spec.name])
        codes = codes[~np.isnan(codes)]
        if codes.size:
            ranges[spec.name] = (float(codes.min()), float(codes.max()))
    return ranges


def _number(value: float) -> str:
    return f"{value:.3g}" if abs(value) < 1000 else f"{value:.0f}"


def _unit(spec: Feature) -> str:
    return f" {spec.unit}" if spec.unit else ""


@dataclass(frozen=True)
class TabularCheck:
    """What the tabular check found (see :class:`GuardReport`)."""

    reasons: tuple[str, ...]
    values_present: int
    values_possible: int
    heavy_missing: bool
    static_present: int
    static_possible: int


def tabular_check(
    static: Mapping[str, object],
    timepoints: Sequence[Mapping[str, object]],
    ranges: Mapping[str, tuple[float, float]],
    groups: Sequence[str] = ("clinical", "genomic"),
) -> TabularCheck:
    """Values far outside the training ranges, and how many values were given.

    Args:
        static: static feature name -> raw value; timepoints: one mapping per given time point
            (``time_point`` plus dynamic values), as in :class:`mmcrnet.predict.ClinicalCase`.
        ranges: feature name -> training (min, max).
        groups: feature groups the model reads (the others count neither as present nor as
            possible).

    Raises:
        InvalidCase: a value that does not parse (validate the case first).
    """
    reasons: list[str] = []

    def far(spec: Feature, code: float, where: str) -> None:
        if spec.kind != "numeric" or spec.name not in ranges or math.isnan(code):
            return
        lo, hi = ranges[spec.name]
        margin = RANGE_MARGIN * (hi - lo)
        if lo - margin <= code <= hi + margin:
            return
        reasons.append(
            f"{spec.label}{where} {_number(code)}{_unit(spec)} is outside the "
            f"training range {_number(lo)} to {_number(hi)}{_unit(spec)}"
        )

    static_specs = [s for s in STATIC_FEATURES if s.group in groups]
    dynamic_specs = [s for s in DYNAMIC_FEATURES if s.group in groups]
    static_present = 0
    for spec in static_specs:
        code = spec.parse(static.get(spec.name))
        static_present += not math.isnan(code)
        far(spec, code, "")
    dynamic_present = 0
    for row in timepoints:
        where = f" at {row.get('time_point')}"
        for spec in dynamic_specs:
            code = spec.parse(row.get(spec.name))
            dynamic_present += not math.isnan(code)
            far(spec, code, where)
    heavy = static_present < HEAVY_MISSING_FRACTION * len(static_specs)
    if heavy:
        reasons.append(
            f"only {static_present} of {len(static_specs)} baseline values are given; "
            "every training case had at least half of them"
        )
    return TabularCheck(
        tuple(reasons),
        static_present + dynamic_present,
        len(static_specs) + len(dynamic_specs) * len(timepoints),
        heavy,
        static_present,
        len(static_specs),
    )


# --- the guard ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class GuardReport:
    """The guard's verdict on one case. ``ok`` False: show no ordinary answer.

    Attributes:
        image_reasons: header problems, then the learned check's line if it flags the image.
        image_distance: Mahalanobis distance of the image embedding (None without an image).
        image_threshold: the threshold for that image kind (None without an image).
        tabular_reasons: values far outside the training range, heavy missingness.
        values_present, values_possible: values given vs the number the model could have had.
        heavy_missing: fewer than half of the static values given.
        static_present, static_possible: the same for the baseline (static) values alone.
    """

    image_reasons: tuple[str, ...]
    image_distance: float | None
    image_threshold: float | None
    tabular_reasons: tuple[str, ...]
    values_present: int
    values_possible: int
    heavy_missing: bool
    static_present: int
    static_possible: int

    @property
    def image_ok(self) -> bool:
        return not self.image_reasons

    @property
    def tabular_ok(self) -> bool:
        return not self.tabular_reasons

    @property
    def ok(self) -> bool:
        return self.image_ok and self.tabular_ok

    def to_dict(self) -> dict[str, Any]:
        return {
            **asdict(self),
            "image_ok": self.image_ok,
            "tabular_ok": self.tabular_ok,
            "ok": self.ok,
        }


class Guard:
    """Fitted guard of one model: per image kind an :class:`ImageDensity`, and the training
    ranges of the numeric features. ``Guard.load(model_dir)``, then ``guard.check(...)``."""

    def __init__(
        self,
        densities: Mapping[str, ImageDensity],
        ranges: Mapping[str, tuple[float, float]],
        card: Mapping[str, Any],
    ) -> None:
        self.densities = dict(densities)
        self.ranges = dict(ranges)
        self.card = dict(card)

    @classmethod
    def load(cls, model_dir: Path | str) -> Guard:
        """The guard in ``model_dir``, after checking both hashes.

        Raises:
            InvalidModel: a missing or broken file, a safetensors hash that does not match
                guard.json, or a guard fitted for other model weights than model.json's.
        """
        folder = Path(model_dir)
        card_path, weights = folder / GUARD_CARD, folder / GUARD_WEIGHTS
        if not card_path.is_file() or not weights.is_file():
            missing = GUARD_CARD if not card_path.is_file() else GUARD_WEIGHTS
            raise InvalidModel(
                f"{folder}: no {missing} (run: python -m mmcrnet guard fit --model {folder})"
            )
        card = read_json_object(card_path)
        expected = weights_sha256(card, GUARD_CARD)
        thresholds: dict[str, Any] = card_entry(card, GUARD_CARD, "thresholds", dict)
        layer_names: list[Any] = card_entry(card, GUARD_CARD, "layers", list)
        feature_ranges: dict[str, Any] = card_entry(card, GUARD_CARD, "feature_ranges", dict)
        actual = sha256_of(weights)
        if expected != actual:
            raise InvalidModel(
                f"{GUARD_WEIGHTS}: SHA-256 {actual[:12]}... does not match "
                f"{GUARD_CARD}'s {expected[:12]}..."
            )
        model_sha = weights_sha256(read_card(folder), CARD)
        if card.get("model_sha256") != model_sha:
            raise InvalidModel(
                f"{GUARD_CARD}: fitted for model weights "
                f"{str(card.get('model_sha256'))[:12]}... but model.json has "
                f"{model_sha[:12]}... (run: python -m mmcrnet guard fit)"
            )
        try:
            tensors = load_file(str(weights))
        except SafetensorError as exc:
            raise InvalidModel(f"{GUARD_WEIGHTS}: not a safetensors file ({exc})") from None
        densities = {}
        for kind, threshold in thresholds.items():
            layers = {}
            for name in layer_names:
                key = f"{kind}.{name}"
                for part in ("mean", "precision", "scale"):
                    if f"{key}.{part}" not in tensors:
                        raise InvalidModel(f"{GUARD_WEIGHTS}: no tensor '{key}.{part}'")
                layers[name] = EmbeddingDensity(
                    tensors[f"{key}.mean"].astype(np.float64),
                    tensors[f"{key}.precision"].astype(np.float64),
                    float(tensors[f"{key}.scale"][0]),
                )
            densities[kind] = ImageDensity(layers, float(threshold))
        ranges = {k: (float(v[0]), float(v[1])) for k, v in feature_ranges.items()}
        return cls(densities, ranges, card)

    def save(self, model_dir: Path | str) -> dict[str, Any]:
        """Write guard.safetensors and guard.json (with both hashes); returns the card."""
        folder = Path(model_dir)
        tensors = {}
        for kind, density in self.densities.items():
            for name, layer in density.layers.items():
                # float32 halves the file; distances are computed in float64 after loading
                tensors[f"{kind}.{name}.mean"] = np.ascontiguousarray(layer.mean, dtype=np.float32)
                tensors[f"{kind}.{name}.precision"] = np.ascontiguousarray(
                    layer.precision, dtype=np.float32
                )
                tensors[f"{kind}.{name}.scale"] = np.array([layer.scale], dtype=np.float64)
        save_file(tensors, str(folder / GUARD_WEIGHTS), metadata={"format": "np"})
        card = {
            **self.card,
            "weights": {"file": GUARD_WEIGHTS, "sha256": sha256_of(folder / GUARD_WEIGHTS)},
        }
        (folder / GUARD_CARD).write_text(json.dumps(card, indent=2) + "\n")
        self.card = card
        return card

    @property
    def thresholds(self) -> dict[str, float]:
        return {kind: d.threshold for kind, d in self.densities.items()}

    def image_distance(
        self,
        model: MMCRNet,
        image: torch.Tensor,
        kind: torch.Tensor,
        features: dict[str, np.ndarray] | None = None,
    ) -> tuple[float, float, str] | None:
        """(distance, threshold, layer with the largest distance) of one prepared image
        (1, 3, S, S) of kind (1,); None without an image or without a density for its kind.
        One forward of the image branch, unless its ``features`` come with it
        (:func:`logits_and_image_features`)."""
        name = IMAGE_KINDS[int(kind[0])]
        density = self.densities.get(name)
        if density is None or int(kind[0]) == NO_IMAGE:
            return None
        if features is None:
            features = image_features(model, image[:1], int(kind[0]))
        distances, largest = density.scores(features)
        return float(distances[0]), density.threshold, list(density.layers)[int(largest[0])]

    def tabular_check(
        self, clinical: ClinicalCase, groups: Sequence[str] = ("clinical", "genomic")
    ) -> TabularCheck:
        """:func:`tabular_check` of a :class:`mmcrnet.predict.ClinicalCase` with these ranges."""
        return tabular_check(clinical.static, clinical.timepoints, self.ranges, groups)

    def check(
        self,
        study: Study | None,
        prepared: PreparedInput,
        clinical: ClinicalCase,
        model: MMCRNet,
        features: dict[str, np.ndarray] | None = None,
    ) -> GuardReport:
        """The verdict on one prepared case (:meth:`mmcrnet.predict.Predictor.prepare`).

        Args:
            study: the image study the case was prepared from (None without an image).
            prepared: its PreparedInput (``image`` (1, 3, S, S), ``kind`` (1,)).
            clinical: its ClinicalCase.
            model: the predictor's model (``predictor.model``).
            features: the image's statistics from the prediction's own forward pass
                (:func:`logits_and_image_features`), so the image is not run again.
        Returns:
            a :class:`GuardReport`; no image reasons when the case has no image input.
        """
        image_reasons: list[str] = []
        distance = threshold = None
        if int(prepared.kind[0]) != NO_IMAGE:
            if study is not None:
                image_reasons.extend(header_checks(study))
            measured = self.image_distance(model, prepared.image, prepared.kind, features)
            if measured is not None:
                distance, threshold, layer = measured
                if distance > threshold:
                    image_reasons.append(
                        "the image is unlike the training "
                        f"{KIND_WORDS[IMAGE_KINDS[int(prepared.kind[0])]]} "
                        f"images: distance {distance:.1f}, threshold {threshold:.1f} (largest "
                        f"at {layer})"
                    )
        tabular = self.tabular_check(clinical, model.config.groups)
        return GuardReport(
            tuple(image_reasons),
            distance,
            threshold,
            tabular.reasons,
            tabular.values_present,
            tabular.values_possible,
            tabular.heavy_missing,
            tabular.static_present,
            tabular.static_possible,
        )


# --- fitting ------------------------------------------------------------------------------------


def _phantom_source(card: Mapping[str, Any]) -> tuple[int, int, int]:
    """(n, cohort seed, split seed) of the model's phantom training cohort.

    Raises:
        OncoPredictError: the card names no phantom cohort.
    """
    source = card.get("training_source", {})
    if source.get("kind") != "phantom":
        raise OncoPredictError(
            f"the model card's training source {source!r} is not a phantom "
            "cohort; the guard is fitted on the model's phantom training split"
        )
    split_seed = int(card.get("split", {}).get("seed", source["seed"]))
    return int(source["n"]), int(source["seed"]), split_seed


def fit_guard(
    model_dir: Path | str,
    held_out: int = 1000,
    seed: int = 8,
    quantile: float = DEFAULT_QUANTILE,
    workers: int | None = None,
    progress: ProgressCallback | None = None,
    command: str = "",
) -> Guard:
    """Fit the guard of the model in ``model_dir`` and write it there.

    Rebuilds the model's training split (cohort and split seed from model.json), fits the
    per-kind Gaussians on its images and the feature ranges on its tables, and sets each
    threshold at ``quantile`` of ``held_out`` new phantom cases of seed ``seed``.

    Raises:
        OncoPredictError: ``seed`` is the training or the test seed (99), or the card names no
            phantom cohort; ValueError: ``quantile`` outside (0, 1).
    """
    from mmcrnet.datasets import default_cache, phantom_case_set, split_rows, subset

    say = progress or (lambda message: None)
    if not 0.0 < quantile < 1.0:
        raise InvalidArgument(f"quantile {quantile} must be between 0 and 1")
    started = time.perf_counter()
    n, cohort_seed, split_seed = _phantom_source(read_card(Path(model_dir)))
    if seed in (cohort_seed, 99):
        raise OncoPredictError(
            f"held-out seed {seed} is the training or the test seed; use another"
        )
    model, card = load_model(Path(model_dir), "cpu")
    say(f"rebuilding the training cohort: {n} phantom cases, seed {cohort_seed}")
    cases = phantom_case_set(n, cohort_seed, cache=default_cache(n, cohort_seed), workers=workers)
    train_rows, _, _ = split_rows(
        cases.n, split_seed, tuple(card.get("split", {}).get("fractions", (0.7, 0.15, 0.15)))
    )
    train = subset(cases, train_rows)
    say(f"building the held-out cases: {held_out} phantom cases, seed {seed}")
    held = phantom_case_set(held_out, seed, cache=default_cache(held_out, seed), workers=workers)
    densities: dict[str, ImageDensity] = {}
    held_distances: dict[str, dict[str, float]] = {}
    for name, kind in (("mri", MRI), ("mammogram", MAMMOGRAM)):
        say(f"image-branch features of the {name} images ({train.n} training, {held.n} held-out)")
        train_images = train.images.mri if kind == MRI else train.images.mammogram
        held_images = held.images.mri if kind == MRI else held.images.mammogram
        densities[name], distances = fit_image_density(
            image_features(model, train_images, kind),
            image_features(model, held_images, kind),
            quantile,
        )
        held_distances[name] = {
            "median": round(float(np.median(distances)), 3),
            "max": round(float(distances.max()), 3),
        }
    ranges = training_ranges(train.cases, train.timepoints)
    guard_card = {
        "version": GUARD_VERSION,
        "what": "out-of-distribution guard: header checks, Mahalanobis distances of the "
        "image branch's statistics per image kind, training ranges of the numeric "
        "features",
        "model_sha256": card["weights"]["sha256"],
        "layers": list(FEATURE_LAYERS),
        "features": "per image kind, one Gaussian (Ledoit-Wolf covariance) per layer of the "
        "image branch: blockK = channel means and spatial SDs of conv block K, "
        "blockK_grid = 2x2 grid of channel means; distance = largest layer "
        "Mahalanobis distance over that layer's held-out median",
        "quantile": quantile,
        "thresholds": {k: round(d.threshold, 4) for k, d in densities.items()},
        "held_out_distances": held_distances,
        "training_cohort": {
            "kind": "phantom",
            "n": n,
            "seed": cohort_seed,
            "split_seed": split_seed,
            "train_cases": int(train.n),
            "images": "training split only; no outcomes used",
        },
        "held_out_cohort": {"kind": "phantom", "n": held_out, "seed": seed},
        "feature_ranges": {k: [v[0], v[1]] for k, v in ranges.items()},
        "range_margin": RANGE_MARGIN,
        "heavy_missing": f"fewer than {HEAVY_MISSING_FRACTION:g} of the static features given",
        "supported_geometry": {k: g.to_dict() for k, g in GEOMETRIES.items()},
        "axial_tolerance_deg": AXIAL_TOLERANCE_DEG,
        "body_parts": list(SUPPORTED_BODY_PARTS),
        "fit_seconds": round(time.perf_counter() - started, 1),
        "command": command,
    }
    guard = Guard(densities, ranges, guard_card)
    guard.save(model_dir)
    return guard


# --- evaluation ---------------------------------------------------------------------------------


def _resized(plane: np.ndarray, height: int, width: int) -> np.ndarray:
    """(H, W) -> (height, width), bilinear (area when shrinking)."""
    tensor = torch.from_numpy(np.array(plane, dtype=np.float32))[None, None]  # a writable copy
    shrink = height < plane.shape[0]
    out = torch.nn.functional.interpolate(
        tensor,
        size=(height, width),
        mode="area" if shrink else "bilinear",
        **({} if shrink else {"align_corners": False}),
    )
    return out[0, 0].numpy()


def _gaussian_blur(plane: np.ndarray, sigma: float) -> np.ndarray:
    from scipy.ndimage import gaussian_filter

    return gaussian_filter(plane, sigma).astype(np.float32)


#: Named transforms of a study's (H, W) planes in [0, 1]: name -> (plane, rng) -> plane.
#: ``resize 64x64`` changes the matrix (and the spacing, keeping the field of view).
TRANSFORMS: dict[str, Callable[[np.ndarray, np.random.Generator], np.ndarray]] = {
    "rotated 90 degrees": lambda p, rng: np.rot90(p).copy(),
    "flipped vertically": lambda p, rng: p[::-1].copy(),
    "intensity inverted": lambda p, rng: 1.0 - p,
    "heavy Gaussian noise (sd 0.25)": lambda p, rng: np.clip(
        p + rng.normal(0.0, 0.25, p.shape), 0.0, 1.0
    ).astype(np.float32),
    "blurred (Gaussian sd 4 px)": lambda p, rng: _gaussian_blur(p, 4.0),
    "zoomed 3x (centre crop)": lambda p, rng: _resized(
        p[
            p.shape[0] // 3 : p.shape[0] // 3 + p.shape[0] // 3,
            p.shape[1] // 3 : p.shape[1] // 3 + p.shape[1] // 3,
        ],
        *p.shape,
    ),
    "downscaled to 32x32 and back": lambda p, rng: _resized(_resized(p, 32, 32), *p.shape),
    "constant image (0.5)": lambda p, rng: np.full_like(p, 0.5),
    "random noise image": lambda p, rng: rng.random(p.shape).astype(np.float32),
    "resized to 64x64": lambda p, rng: _resized(p, 64, 64),
}


def transformed_study(study: Study, name: str, rng: np.random.Generator) -> Study:
    """``study`` with transform ``name`` applied to every phase's every slice (the same noise
    draw is not shared between phases). Spacing is rescaled when the matrix changes.

    Raises:
        KeyError: an unknown transform name.
    """
    transform = TRANSFORMS[name]
    phases = []
    for phase in study.phases:
        volume = np.stack([transform(plane, rng) for plane in phase.volume]).astype(np.float32)
        phases.append(dataclasses.replace(phase, volume=volume))
    height, width = study.shape[2:]
    new_h, new_w = phases[0].volume.shape[1:]
    spacing = study.pixel_spacing_mm
    if spacing is not None and (new_h, new_w) != (height, width):
        spacing = (spacing[0] * height / new_h, spacing[1] * width / new_w)
    return dataclasses.replace(study, phases=tuple(phases), pixel_spacing_mm=spacing)


def _as_kind(study: Study, kind: str) -> Study:
    """A study read as another kind, for the learned check of images the model refuses: its
    chosen slice as a 3-phase DCE-MRI (the slice copied) or as a mammogram."""
    plane = study.image[0][None]  # (1, H, W)
    phase = Phase(label="image", index=0, time_s=None, volume=plane)
    if kind == "mri":
        phases = tuple(
            dataclasses.replace(phase, index=i, label=f"phase {i + 1}") for i in range(3)
        )
    else:
        phases = (phase,)
    changes: dict[str, Any] = {"kind": kind, "phases": phases, "slice_index": 0}
    if "phase_source" in {f.name for f in dataclasses.fields(study)}:
        changes["phase_source"] = "dicom"
    return dataclasses.replace(study, **changes)


def _dce_copies(path: Path, phases: int = 3) -> list[RawFile]:
    """One DICOM file written ``phases`` times as the phases of a DCE series (temporal
    positions 1..phases, 90 s apart)."""
    import pydicom
    from pydicom.uid import generate_uid

    files = []
    for p in range(phases):
        ds = pydicom.dcmread(str(path))
        ds.SOPInstanceUID = generate_uid(entropy_srcs=[str(path), str(p)])
        ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
        ds.TemporalPositionIdentifier = p + 1
        ds.TriggerTime = 90_000.0 * p
        buffer = io.BytesIO()
        ds.save_as(buffer)
        files.append(RawFile(f"{path.stem}-phase{p + 1}.dcm", buffer.getvalue()))
    return files


@dataclass(frozen=True)
class StudyVerdict:
    """The guard on one evaluated image: header reasons and the learned check per kind tried."""

    name: str
    modality: str
    kind: str
    header_reasons: tuple[str, ...]
    distances: dict[str, float]  # kind tried -> distance
    learned_flagged: bool  # flagged by the learned check under every kind tried
    note: str = ""

    @property
    def header_flagged(self) -> bool:
        return bool(self.header_reasons)

    @property
    def flagged(self) -> bool:
        return self.header_flagged or self.learned_flagged

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "header_flagged": self.header_flagged, "flagged": self.flagged}


def study_verdict(
    guard: Guard, model: MMCRNet, study: Study, name: str, note: str = ""
) -> StudyVerdict:
    """Header reasons and learned distances of one study: as read when the model reads its kind,
    else as a copied-slice DCE-MRI and as a mammogram (flagged only if flagged as both)."""
    as_read = study.kind in LEARNED_KINDS and (study.kind != "mri" or study.shape[0] >= 2)
    distances: dict[str, float] = {}
    for kind in [study.kind] if as_read else list(LEARNED_KINDS):
        source = study if as_read else _as_kind(study, kind)
        code, pixels = image_input(source)
        image = np.zeros((1, 3, *pixels.shape[1:]), dtype=np.float32)
        image[0, : pixels.shape[0]] = pixels
        measured = guard.image_distance(model, torch.from_numpy(image), torch.tensor([code]))
        if measured is not None:
            distances[kind] = round(measured[0], 3)
    flagged = bool(distances) and all(
        d > guard.densities[k].threshold for k, d in distances.items()
    )
    return StudyVerdict(
        name, study.modality, study.kind, header_checks(study), distances, flagged, note
    )


#: pydicom's bundled test files of modalities other than breast MR/MG (no downloads).
PYDICOM_FILES: tuple[str, ...] = (
    "CT_small.dcm",
    "693_J2KI.dcm",
    "J2K_pixelrep_mismatch.dcm",
    "MR_small.dcm",
    "MR_small_RLE.dcm",
    "MR_small_jp2klossless.dcm",
    "MR_small_bigendian.dcm",
    "MR_small_implicit.dcm",
    "examples_overlay.dcm",
    "JPEG2000.dcm",
    "JPEG-lossy.dcm",
    "JPGExtended.dcm",
    "examples_jpeg2k.dcm",
    "examples_rgb_color.dcm",
    "examples_palette.dcm",
    "examples_ybr_color.dcm",
    "ExplVR_BigEnd.dcm",
    "SC_rgb_jpeg.dcm",
    "SC_rgb_rle.dcm",
    "image_dfl.dcm",
    "liver_1frame.dcm",
    "rtdose_1frame.dcm",
    "rtdose.dcm",
)


def pydicom_verdicts(guard: Guard, model: MMCRNet) -> list[StudyVerdict]:
    """The guard on each of :data:`PYDICOM_FILES` that the reader reads (the others listed with
    the reader's refusal), and on MR_small copied into three phases as a DCE-MRI."""
    from pydicom.data import get_testdata_file

    verdicts = []
    for name in PYDICOM_FILES:
        path = get_testdata_file(name)
        if path is None:
            continue
        try:
            study = read_paths([path])
        except UnreadableImage as exc:
            reason = str(exc).replace(str(path), name)
            verdicts.append(
                StudyVerdict(
                    name,
                    "",
                    "refused by the reader",
                    (reason,),
                    {},
                    False,
                    "the app shows the reader's error",
                )
            )
            continue
        verdicts.append(study_verdict(guard, model, study, name))
    mr_small = get_testdata_file("MR_small.dcm")
    if mr_small is not None:
        study = read_study(_dce_copies(Path(mr_small)))
        verdicts.append(study_verdict(guard, model, study, "MR_small.dcm x3 as a DCE-MRI"))
    return verdicts


@dataclass(frozen=True)
class GuardEvaluation:
    """Measured figures of a guard (all shares are fractions of cases flagged)."""

    phantom_test: dict[str, Any]  # per kind: n, flagged share, distances
    pydicom: tuple[StudyVerdict, ...]
    transforms: dict[str, dict[str, Any]]  # transform -> per kind: header, learned, any
    thresholds: dict[str, float]

    def targets(self) -> dict[str, bool]:
        """The guard's targets (issue 11), each met or not."""
        read = [v for v in self.pydicom if v.kind != "refused by the reader"]
        return {
            "held-out phantom flagged <= 3 %": all(
                self.phantom_test[k]["flagged"] <= 0.03 for k in LEARNED_KINDS
            ),
            "every pydicom image read is flagged": all(v.flagged for v in read),
            "transformed phantoms flagged >= 80 %": _overall(self.transforms)["any"] >= 0.80,
        }

    @property
    def passed(self) -> bool:
        return all(self.targets().values())

    def to_dict(self) -> dict[str, Any]:
        files = [v.to_dict() for v in self.pydicom]
        read = [v for v in self.pydicom if v.kind != "refused by the reader"]
        return {
            "thresholds": self.thresholds,
            "phantom_test": self.phantom_test,
            "pydicom": {
                "files": files,
                "read": len(read),
                "flagged": sum(v.flagged for v in read),
                "refused_by_reader": len(self.pydicom) - len(read),
            },
            "transforms": self.transforms,
            "transforms_overall": _overall(self.transforms),
            "targets": self.targets(),
        }


def _overall(transforms: Mapping[str, Mapping[str, Any]]) -> dict[str, float]:
    learned = [row[k]["learned"] for row in transforms.values() for k in LEARNED_KINDS if k in row]
    flagged = [row[k]["any"] for row in transforms.values() for k in LEARNED_KINDS if k in row]
    return {
        "learned": round(float(np.mean(learned)), 4) if learned else math.nan,
        "any": round(float(np.mean(flagged)), 4) if flagged else math.nan,
    }


def evaluate_guard(
    model_dir: Path | str,
    test_n: int = 1000,
    seed: int = 99,
    transform_cases: int = 100,
    workers: int | None = None,
    progress: ProgressCallback | None = None,
) -> GuardEvaluation:
    """Measure the guard in ``model_dir``: share of held-out phantom test cases flagged (per
    kind), each pydicom test image, and ``transform_cases`` phantom test cases under each of
    :data:`TRANSFORMS` (both kinds, through the real reader path).

    Raises:
        InvalidModel: no guard, or hashes that do not match; OncoPredictError: ``seed`` is the
            training seed or the guard's held-out seed.
    """
    from mmcrnet.datasets import default_cache, phantom_case_set
    from mmcrnet.phantom.cohort import generate_cohort
    from mmcrnet.phantom.writer import case_renders, mammogram_dataset, mri_datasets

    say = progress or (lambda message: None)
    guard = Guard.load(model_dir)
    model, _ = load_model(Path(model_dir), "cpu")
    used = {guard.card["training_cohort"]["seed"], guard.card["held_out_cohort"]["seed"]}
    if seed in used:
        raise OncoPredictError(f"--seed {seed} was used to fit the guard; use another")
    say(f"building the test set: {test_n} phantom cases, seed {seed}")
    test = phantom_case_set(test_n, seed, cache=default_cache(test_n, seed), workers=workers)
    phantom: dict[str, Any] = {"n": test_n, "seed": seed}
    for name, kind in (("mri", MRI), ("mammogram", MAMMOGRAM)):
        images = test.images.mri if kind == MRI else test.images.mammogram
        distances, _ = guard.densities[name].scores(image_features(model, images, kind))
        phantom[name] = {
            "flagged": round(float(np.mean(distances > guard.densities[name].threshold)), 4),
            "median_distance": round(float(np.median(distances)), 3),
            "p99_distance": round(float(np.quantile(distances, 0.99)), 3),
        }
    say("pydicom's bundled test images")
    pydicom = tuple(pydicom_verdicts(guard, model))
    say(f"transforms of {transform_cases} phantom test cases")
    renders = case_renders(generate_cohort(test_n, seed))[:transform_cases]
    rng = np.random.default_rng([seed, 2026])
    counts = {t: {k: np.zeros(3, dtype=np.int64) for k in LEARNED_KINDS} for t in TRANSFORMS}
    for render in renders:
        rendered = render.render()
        studies = {
            "mri": read_study(
                [
                    RawFile(f"{render.case_id}/phase{i + 1}.dcm", data)
                    for i, data in enumerate(mri_datasets(render, rendered.mri))
                ],
                isolate=False,  # our own phantom renders
            ),
            "mammogram": read_study(
                [RawFile(f"{render.case_id}/mammogram.dcm", mammogram_dataset(render, rendered))],
                isolate=False,
            ),
        }
        for name in TRANSFORMS:
            for kind_name, study in studies.items():
                verdict = study_verdict(guard, model, transformed_study(study, name, rng), name)
                counts[name][kind_name] += (
                    verdict.header_flagged,
                    verdict.learned_flagged,
                    verdict.flagged,
                )
    transforms = {
        name: {
            kind: {
                "n": len(renders),
                "header": round(float(c[0]) / len(renders), 4),
                "learned": round(float(c[1]) / len(renders), 4),
                "any": round(float(c[2]) / len(renders), 4),
            }
            for kind, c in per_kind.items()
        }
        for name, per_kind in counts.items()
    }
    return GuardEvaluation(phantom, pydicom, transforms, guard.thresholds)


def format_evaluation(result: Mapping[str, Any]) -> str:
    """A guard evaluation (:meth:`GuardEvaluation.to_dict`) as plain text."""
    p = result["phantom_test"]
    lines = [
        "thresholds (Mahalanobis): "
        + ", ".join(f"{k} {v:.2f}" for k, v in result["thresholds"].items()),
        f"held-out phantom test cases flagged (n={p['n']}, seed {p['seed']}): "
        + ", ".join(
            f"{k} {p[k]['flagged']:.1%} (median distance {p[k]['median_distance']:.1f})"
            for k in LEARNED_KINDS
        ),
    ]
    d = result["pydicom"]
    lines.append(
        f"pydicom test images: {d['flagged']} of {d['read']} read flagged "
        f"({d['refused_by_reader']} refused by the reader)"
    )
    for f in d["files"]:
        if f["kind"] == "refused by the reader":
            lines.append(f"  {f['name']:<32} refused by the reader: {f['header_reasons'][0]}")
            continue
        distances = ", ".join(f"{k} {v:.1f}" for k, v in f["distances"].items())
        first = f["header_reasons"][0] if f["header_reasons"] else "-"
        lines.append(
            f"  {f['name']:<32} {f['modality']:<4} header "
            f"{'FLAG' if f['header_flagged'] else 'ok  '}  learned "
            f"{'FLAG' if f['learned_flagged'] else 'ok  '} ({distances})  {first}"
        )
    lines.append("transformed phantom test images flagged (learned / header or learned):")
    for name, row in result["transforms"].items():
        lines.append(
            f"  {name:<32} "
            + "   ".join(
                f"{k} {row[k]['learned']:.0%} / {row[k]['any']:.0%}" for k in LEARNED_KINDS
            )
        )
    overall = result["transforms_overall"]
    lines.append(
        f"  {'overall':<32} learned {overall['learned']:.1%}, header or learned "
        f"{overall['any']:.1%}"
    )
    lines += [
        f"  [{'pass' if ok else 'FAIL'}] {name}" for name, ok in result.get("targets", {}).items()
    ]
    return "\n".join(lines)


__all__ = [
    "AXIAL_TOLERANCE_DEG",
    "EmbeddingDensity",
    "GEOMETRIES",
    "Guard",
    "GuardEvaluation",
    "GuardReport",
    "SupportedGeometry",
    "TabularCheck",
    "TRANSFORMS",
    "evaluate_guard",
    "fit_gaussian",
    "fit_guard",
    "format_evaluation",
    "header_checks",
    "image_features",
    "ImageDensity",
    "fit_image_density",
    "FEATURE_LAYERS",
    "tabular_check",
    "training_ranges",
    "transformed_study",
]
