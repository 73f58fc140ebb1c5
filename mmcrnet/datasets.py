"""Cohorts -> model-ready arrays: encoded sequences, preprocessed images and labels.

Phantom cohorts are rendered in memory and go through the same DICOM encoding and image reader
as an upload (render -> DICOM bytes -> :func:`mmcrnet.io.read_study` -> :func:`image_input`), so
training sees exactly what inference sees. Image arrays are cached as ``.npy`` files (never
pickle) so that a resumed or repeated run does not render again.
"""

from __future__ import annotations

import json
import multiprocessing
import os
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from mmcrnet.cohort import Cohort, load_cohort
from mmcrnet.data import (
    IMAGE_SIZE,
    MAMMOGRAM,
    MRI,
    EncodedSequences,
    ImageArrays,
    encode_sequences,
    image_input,
)
from mmcrnet.errors import CohortProblem, InvalidArgument, InvalidCohort, UnsupportedImage
from mmcrnet.features import OUTCOMES, column_codes, feature, subtype_of
from mmcrnet.io import RawFile, read_paths, read_study
from mmcrnet.phantom.cohort import PhantomCohort, generate_cohort
from mmcrnet.phantom.writer import CaseRender, case_renders, mammogram_dataset, mri_datasets

ProgressCallback = Callable[[int, int], None]


@dataclass(frozen=True)
class CaseSet:
    """N cases ready for a model.

    Attributes:
        case_ids: (N,).
        cases, timepoints: the raw tables (for classical baselines and breakdowns).
        sequences: encoded with every feature group (variants re-encode for their groups).
        images: MRI and mammogram inputs.
        labels: (N,) int64 index into OUTCOMES, or None without outcomes.
        subtypes: (N,) index into SUBTYPES (-1 unknown).
        truth: the phantom truth table (rows aligned), or None for real cohorts.
        description: what the data is (goes into model cards).
        source: how to rebuild it: ``{"kind": "phantom", "n": N, "seed": S}`` or
            ``{"kind": "cohort", "path": "..."}``.
    """

    case_ids: tuple[str, ...]
    cases: pd.DataFrame
    timepoints: pd.DataFrame
    sequences: EncodedSequences
    images: ImageArrays
    labels: np.ndarray | None
    subtypes: np.ndarray
    truth: pd.DataFrame | None
    description: str
    source: dict[str, object]

    @property
    def outcomes(self) -> np.ndarray:
        """``labels``, for code that needs them.

        Raises:
            ValueError: the cases have no outcomes (a cohort without outcomes.csv).
        """
        if self.labels is None:
            raise InvalidArgument(f"{self.description}: the cases have no outcomes")
        return self.labels

    @property
    def phantom_truth(self) -> pd.DataFrame:
        """``truth``, for code that needs it.

        Raises:
            ValueError: not a phantom cohort (no truth).
        """
        if self.truth is None:
            raise InvalidArgument(f"{self.description}: no truth (not a phantom cohort)")
        return self.truth

    @property
    def n(self) -> int:
        return len(self.case_ids)


def _labels(outcomes: pd.DataFrame | None, case_ids: list[str]) -> np.ndarray | None:
    if outcomes is None:
        return None
    lookup = dict(zip(outcomes["case_id"], outcomes["response"]))
    return np.array([OUTCOMES.index(lookup[c]) for c in case_ids], dtype=np.int64)


def _subtypes(cases: pd.DataFrame) -> np.ndarray:
    codes = {
        name: column_codes(feature(name), cases[name])
        for name in ("er_percent", "pr_percent", "her2_status")
    }
    return subtype_of(codes["er_percent"], codes["pr_percent"], codes["her2_status"])


def _render_inputs(render: CaseRender) -> tuple[np.ndarray, np.ndarray]:
    """One phantom case through DICOM and the image reader: (MRI (3, S, S), mammogram (1, S, S))."""
    images = render.render()
    mri_files = [
        RawFile(f"{render.case_id}/mri/phase{i + 1}.dcm", data)
        for i, data in enumerate(mri_datasets(render, images.mri))
    ]
    # Files we rendered ourselves: decoded here, not in the upload sandbox.
    _, mri = image_input(read_study(mri_files, isolate=False))
    mammogram_file = RawFile(f"{render.case_id}/mammogram.dcm", mammogram_dataset(render, images))
    _, mammogram = image_input(read_study([mammogram_file], isolate=False))
    return mri, mammogram


def _render_chunk(renders: list[CaseRender]) -> list[tuple[np.ndarray, np.ndarray]]:
    return [_render_inputs(r) for r in renders]


def _parallel(
    chunks: list[list[CaseRender]],
    workers: int,
    progress: ProgressCallback | None,
    total: int,
    mri: np.ndarray,
    mammogram: np.ndarray,
) -> None:
    """Render ``chunks`` into ``mri`` and ``mammogram`` (in memory or memory-mapped files), in
    order, each chunk written as it comes: no more than a chunk per worker is held at once."""
    done = 0
    if workers <= 1:
        mapped: Iterator[list[tuple[np.ndarray, np.ndarray]]] = map(_render_chunk, chunks)
    else:
        # spawn, not fork: a fork after torch has started its OpenMP threads deadlocks the
        # children as soon as they resize an image with torch.
        pool = ProcessPoolExecutor(
            max_workers=workers, mp_context=multiprocessing.get_context("spawn")
        )
        mapped = pool.map(_render_chunk, chunks)
    try:
        for part in mapped:
            for mri_image, mammogram_image in part:
                mri[done], mammogram[done] = mri_image, mammogram_image
                done += 1
            if progress:
                progress(done, total)
    finally:
        if workers > 1:
            pool.shutdown(cancel_futures=True)


def absent_images(n: int) -> ImageArrays:
    """Image inputs of ``n`` cases without images, in no memory (zero-stride zeros): what a
    model that reads no image trains on, so that a tabular cohort renders nothing."""
    return ImageArrays(
        np.broadcast_to(
            np.zeros((1, 3, IMAGE_SIZE, IMAGE_SIZE), np.float16), (n, 3, IMAGE_SIZE, IMAGE_SIZE)
        ),
        np.broadcast_to(
            np.zeros((1, 1, IMAGE_SIZE, IMAGE_SIZE), np.float16), (n, 1, IMAGE_SIZE, IMAGE_SIZE)
        ),
        np.zeros(n, dtype=bool),
        np.zeros(n, dtype=bool),
    )


def phantom_images(
    cohort: PhantomCohort,
    cache: Path | None = None,
    workers: int | None = None,
    progress: ProgressCallback | None = None,
) -> ImageArrays:
    """Image inputs of every phantom case (both modalities), from ``cache`` when it holds them.

    With a ``cache`` the images stream to disk as they are rendered (``mri.npy``,
    ``mammogram.npy``; ``key.json`` last, so a run cut short leaves no cache that looks whole)
    and come back memory-mapped: a batch reads only its rows, and a cohort larger than memory
    is held by the operating system's page cache, never in the process. Without one they are
    rendered into memory.
    """
    key = {
        "seed": cohort.seed,
        "n": cohort.n,
        "image_size": IMAGE_SIZE,
        "case_index": [int(i) for i in cohort.truth["case_index"][:3]],
        "format": 1,
    }
    if cache is not None and (cache / "key.json").is_file():
        if json.loads((cache / "key.json").read_text()) == key:
            return _cached_images(cache, cohort.n)
    renders = case_renders(cohort)
    workers = max(1, min(workers or os.cpu_count() or 1, 8))
    chunk = max(1, min(64, len(renders) // (workers * 4) or 1))
    chunks = [renders[i : i + chunk] for i in range(0, len(renders), chunk)]
    shapes = {
        "mri": (cohort.n, 3, IMAGE_SIZE, IMAGE_SIZE),
        "mammogram": (cohort.n, 1, IMAGE_SIZE, IMAGE_SIZE),
    }
    if cache is None:
        mri, mammogram = (np.zeros(shape, np.float16) for shape in shapes.values())
        _parallel(chunks, workers, progress, len(renders), mri, mammogram)
        ones = np.ones(cohort.n, dtype=bool)
        return ImageArrays(mri, mammogram, ones, ones.copy())
    cache.mkdir(parents=True, exist_ok=True)
    (cache / "key.json").unlink(missing_ok=True)
    files = {
        name: np.lib.format.open_memmap(cache / f"{name}.npy", "w+", np.float16, shape)
        for name, shape in shapes.items()
    }
    _parallel(chunks, workers, progress, len(renders), files["mri"], files["mammogram"])
    for written in files.values():
        written.flush()
    del files
    (cache / "key.json").write_text(json.dumps(key))
    return _cached_images(cache, cohort.n)


def _cached_images(cache: Path, n: int) -> ImageArrays:
    """A phantom image cache, memory-mapped read-only."""
    mri = np.load(cache / "mri.npy", mmap_mode="r", allow_pickle=False)
    mammogram = np.load(cache / "mammogram.npy", mmap_mode="r", allow_pickle=False)
    ones = np.ones(n, dtype=bool)
    return ImageArrays(mri, mammogram, ones, ones.copy())


def default_cache(n: int, seed: int) -> Path:
    """Where the CLI caches a phantom cohort's image arrays: ``.cache/phantom-N-SEED``."""
    return Path(".cache") / f"phantom-{n}-{seed}"


def phantom_test_set(card: dict, n: int, seed: int, workers: int | None = None) -> CaseSet:
    """``n`` new phantom cases for testing the model whose ``card`` is given (images cached).

    Raises:
        InvalidArgument: ``seed`` is the model's training seed (the test set would be its
            training data).
    """
    if card.get("training_source", {}).get("seed") == seed:
        raise InvalidArgument(f"--seed {seed} is the training seed; use another")
    return phantom_case_set(n, seed, cache=default_cache(n, seed), workers=workers)


def phantom_case_set(
    n: int,
    seed: int,
    cache: Path | None = None,
    workers: int | None = None,
    progress: ProgressCallback | None = None,
    images: bool = True,
) -> CaseSet:
    """A phantom cohort of ``n`` cases (seed ``seed``) as a CaseSet; without its images (none
    rendered, every case imageless) unless ``images``."""
    cohort = generate_cohort(n, seed)
    if images:
        arrays = phantom_images(cohort, cache, workers, progress)
    else:
        arrays = absent_images(n)
    ids = cohort.case_ids
    return CaseSet(
        tuple(ids),
        cohort.cases,
        cohort.timepoints,
        encode_sequences(cohort.cases, cohort.timepoints),
        arrays,
        _labels(cohort.outcomes, ids),
        _subtypes(cohort.cases),
        cohort.truth,
        f"synthetic phantom cohort (cohort-spec, n={n}, seed={seed})",
        {"kind": "phantom", "n": n, "seed": seed},
    )


def training_case_set(card: dict, workers: int | None = None) -> CaseSet | None:
    """The model's training cohort as its card records it (``training_source``); None when the
    card records none.

    Raises:
        InvalidCohort: the recorded cohort folder is gone (named), not "no cohort given".
    """
    source = card.get("training_source", {})
    if source.get("kind") == "phantom":
        n, seed = int(source["n"]), int(source["seed"])
        return phantom_case_set(n, seed, cache=default_cache(n, seed), workers=workers)
    if source.get("kind") == "cohort":
        path = Path(str(source.get("path")))
        if not path.is_dir():
            problem = "the model's training cohort folder, recorded in its card, is gone"
            raise InvalidCohort([CohortProblem(str(path), None, None, problem)])
        return cohort_case_set(path)
    return None


def _case_image(cohort: Cohort, case_id: str, name: str) -> np.ndarray | None:
    """A cohort case's MRI (``mri/``) or mammogram (``mammogram.*``) input, None if absent."""
    paths = cohort.image_paths(case_id, name)
    if not paths:
        return None
    kind, image = image_input(read_paths(paths))
    expected = MRI if name == "mri" else MAMMOGRAM
    if kind != expected:
        raise UnsupportedImage(f"{paths[0]}: expected a {name} image, found another kind")
    return image


def cohort_case_set(
    root: Path, progress: ProgressCallback | None = None, require_outcomes: bool = True
) -> CaseSet:
    """A researcher's cohort folder (validated against the schema) as a CaseSet.

    Raises:
        InvalidCohort: schema problems (file, line, column).
        UnreadableImage: an image that cannot be read (message names the file).
    """
    cohort: Cohort = load_cohort(root, require_outcomes=require_outcomes)
    ids = cohort.case_ids
    size = IMAGE_SIZE
    mri = np.zeros((len(ids), 3, size, size), dtype=np.float16)
    mammogram = np.zeros((len(ids), 1, size, size), dtype=np.float16)
    has_mri = np.zeros(len(ids), dtype=bool)
    has_mg = np.zeros(len(ids), dtype=bool)
    for i, case_id in enumerate(ids):
        image = _case_image(cohort, case_id, "mri")
        if image is not None:
            mri[i], has_mri[i] = image, True
        image = _case_image(cohort, case_id, "mammogram")
        if image is not None:
            mammogram[i], has_mg[i] = image, True
        if progress:
            progress(i + 1, len(ids))
    truth = None
    if cohort.has_truth:
        truth = pd.read_csv(root / "truth" / "truth.csv").set_index("case_id").loc[ids]
        truth = truth.reset_index()
    description = str(cohort.metadata.get("description") or f"cohort folder {root.name}")
    return CaseSet(
        tuple(ids),
        cohort.cases,
        cohort.timepoints,
        encode_sequences(cohort.cases, cohort.timepoints),
        ImageArrays(mri, mammogram, has_mri, has_mg),
        _labels(cohort.outcomes, ids),
        _subtypes(cohort.cases),
        truth,
        description,
        {"kind": "cohort", "path": str(Path(root).resolve())},
    )


def subset(cases: CaseSet, rows: np.ndarray) -> CaseSet:
    """The cases at ``rows`` (order kept)."""
    rows = np.asarray(rows, dtype=np.int64)
    ids = [cases.case_ids[i] for i in rows]
    keep = cases.timepoints["case_id"].isin(set(ids))
    seq = cases.sequences
    img = cases.images
    return CaseSet(
        tuple(ids),
        cases.cases.iloc[rows].reset_index(drop=True),
        cases.timepoints[keep].reset_index(drop=True),
        EncodedSequences(seq.values[rows], seq.lengths[rows], tuple(ids)),
        ImageArrays(
            _take(img.mri, rows),
            _take(img.mammogram, rows),
            img.has_mri[rows],
            img.has_mammogram[rows],
        ),
        None if cases.labels is None else cases.labels[rows],
        cases.subtypes[rows],
        None if cases.truth is None else cases.truth.iloc[rows].reset_index(drop=True),
        cases.description,
        cases.source,
    )


def _take(array: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """``array[rows]``; still in no memory for :func:`absent_images`' zero-stride zeros."""
    if array.ndim and array.strides[0] == 0:
        return np.broadcast_to(array[:1], (len(rows), *array.shape[1:]))
    return array[rows]


def split_rows(
    n: int, seed: int, fractions: tuple[float, float, float] = (0.70, 0.15, 0.15)
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The paper's 70/15/15 train/validation/test split of ``n`` rows (seeded permutation)."""
    order = np.random.default_rng([seed, 70_15_15]).permutation(n)
    n_train = int(round(fractions[0] * n))
    n_val = int(round(fractions[1] * n))
    return order[:n_train], order[n_train : n_train + n_val], order[n_train + n_val :]


__all__ = ["CaseSet", "cohort_case_set", "phantom_case_set", "split_rows", "subset"]
