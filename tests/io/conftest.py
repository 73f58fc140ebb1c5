"""Fixtures for the image-reading tests: pydicom's bundled files and synthetic DICOM builders."""

from __future__ import annotations

import random
from collections.abc import Callable
from io import BytesIO
from typing import Any

import numpy as np
import pytest
from pydicom.data import get_testdata_file
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, MRImageStorage, generate_uid

from mmcrnet.errors import UnreadableImage
from mmcrnet.io import RawFile

ROW_DIR = np.array([np.cos(np.radians(30)), np.sin(np.radians(30)), 0.0])
COL_DIR = np.array(
    [
        -np.sin(np.radians(30)) * np.cos(np.radians(20)),
        np.cos(np.radians(30)) * np.cos(np.radians(20)),
        np.sin(np.radians(20)),
    ]
)
NORMAL = np.cross(ROW_DIR, COL_DIR)
ORIGIN = np.array([-50.0, 20.0, 7.5])
SLICE_GAP_MM = 2.5
HOT_SLICE = 2  # strongest planted enhancement (in sorted slice order)
WEAK_SLICE = 0  # weaker enhancement
BLOB = (slice(10, 20), slice(12, 22))


@pytest.fixture
def testdata() -> Callable[[str], RawFile]:
    """Load one of pydicom's bundled test files as a RawFile (asserting it is present)."""

    def load(name: str) -> RawFile:
        path = get_testdata_file(name)
        assert path is not None, f"pydicom test file {name} is not available"
        with open(path, "rb") as fh:
            return RawFile(name=name, data=fh.read())

    return load


def dataset_bytes(ds: Dataset) -> bytes:
    """Serialise a dataset as a DICOM file (with preamble) in memory."""
    buf = BytesIO()
    ds.save_as(buf, enforce_file_format=True)
    return buf.getvalue()


def base_dataset(pixels: np.ndarray, **attrs: Any) -> Dataset:
    """An MR-like dataset holding ``pixels`` ``(H, W)`` or ``(F, H, W)`` uint16; ``attrs``
    override."""
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.SOPClassUID = attrs.pop("SOPClassUID", MRImageStorage)
    ds.SOPInstanceUID = generate_uid()
    ds.Modality = "MR"
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.SamplesPerPixel = 1
    ds.Rows, ds.Columns = pixels.shape[-2:]
    ds.BitsAllocated = 16
    ds.BitsStored = 16
    ds.HighBit = 15
    ds.PixelRepresentation = 0
    ds.PixelSpacing = [0.7, 0.7]
    if pixels.ndim == 3:
        ds.NumberOfFrames = pixels.shape[0]
    ds.PixelData = np.ascontiguousarray(pixels, dtype="<u2").tobytes()
    for key, value in attrs.items():
        if value is None:
            if key in ds:
                delattr(ds, key)
        else:
            setattr(ds, key, value)
    return ds


@pytest.fixture
def make_dicom() -> Callable[..., RawFile]:
    """Build a single DICOM file: ``make_dicom(name, pixels, **attrs)``."""

    def make(name: str, pixels: np.ndarray, **attrs: Any) -> RawFile:
        return RawFile(name=name, data=dataset_bytes(base_dataset(pixels, **attrs)))

    return make


def dce_pixels(phase: int, slice_k: int, size: int = 32) -> np.ndarray:
    """Planted content: pixel [0, 0] = 50*phase + slice; body 100 + 10*slice; blob enhancement."""
    img = np.full((size, size), 100 + 10 * slice_k, dtype=np.uint16)
    if phase > 0:
        boost = {HOT_SLICE: 400 if phase == 1 else 300, WEAK_SLICE: 100}.get(slice_k, 0)
        img[BLOB] += boost
    img[0, 0] = 50 * phase + slice_k
    return img


@pytest.fixture
def dce_layout() -> dict[str, float]:
    """Where :func:`dce_files` planted things: ``hot_slice`` index and ``gap_mm`` slice spacing."""
    return {"hot_slice": HOT_SLICE, "gap_mm": SLICE_GAP_MM}


@pytest.fixture
def png_bytes() -> Callable[..., bytes]:
    """``png_bytes(array, fmt="PNG", **save_kwargs)`` -> encoded image bytes via Pillow."""
    from PIL import Image

    def encode(array: np.ndarray, fmt: str = "PNG", **kwargs: Any) -> bytes:
        if array.dtype == np.uint16:
            img = Image.fromarray(array.astype(np.uint16))
        else:
            img = Image.fromarray(array)
        buf = BytesIO()
        img.save(buf, format=fmt, **kwargs)
        return buf.getvalue()

    return encode


@pytest.fixture
def dce_files() -> Callable[..., list[RawFile]]:
    """3 phases x 4 slices, 32x32, oblique, shuffled; flags drop temporal tags.

    Window centre/width 500/1000 make the window [0, 1000], so normalised value = stored / 1000.
    AcquisitionTime has 0.5 s per-slice jitter; phase k: TPI k+1, TriggerTime 60 s * k,
    AcquisitionTime 12:00:00 + 75 s * k.
    """

    def build(
        *,
        tpi: bool = True,
        trigger: bool = True,
        acquisition: bool = True,
        n_phases: int = 3,
        n_slices: int = 4,
        seed: int = 7,
        window: bool = True,
    ) -> list[RawFile]:
        files = []
        series = [generate_uid() for _ in range(n_phases)]
        for p in range(n_phases):
            for k in range(n_slices):
                position = ORIGIN + k * SLICE_GAP_MM * NORMAL
                attrs: dict[str, Any] = {
                    "ImageOrientationPatient": [
                        float(v) for v in np.round(np.r_[ROW_DIR, COL_DIR], 6)
                    ],
                    "ImagePositionPatient": [float(v) for v in np.round(position, 4)],
                    "SeriesInstanceUID": series[p],
                    # instance numbers deliberately run against the geometric order
                    "InstanceNumber": n_slices - k,
                }
                if window:
                    attrs["WindowCenter"], attrs["WindowWidth"] = 500, 1000
                if tpi:
                    attrs["TemporalPositionIdentifier"] = p + 1
                if trigger:
                    attrs["TriggerTime"] = 60000.0 * p
                if acquisition:
                    seconds = 75 * p + 0.5 * k
                    attrs["AcquisitionTime"] = (
                        "12" + f"{int(seconds // 60):02d}" + f"{seconds % 60:09.6f}"
                    )
                files.append(
                    RawFile(
                        name=f"p{p}_s{k}.dcm",
                        data=dataset_bytes(base_dataset(dce_pixels(p, k), **attrs)),
                    )
                )
        random.Random(seed).shuffle(files)
        return files

    return build


def assert_one_line(exc: pytest.ExceptionInfo[UnreadableImage], name: str) -> None:
    """The message is one line and names the file."""
    text = str(exc.value)
    assert "\n" not in text, text
    assert name in text, text


@pytest.fixture
def one_line() -> Callable[[pytest.ExceptionInfo[UnreadableImage], str], None]:
    """``one_line(excinfo, name)`` asserts a one-line message naming the file."""
    return assert_one_line


@pytest.fixture
def build_dataset() -> Callable[..., Dataset]:
    """``build_dataset(pixels, **attrs)`` -> an MR-like :class:`Dataset` (see
    :func:`base_dataset`)."""
    return base_dataset


@pytest.fixture
def to_bytes() -> Callable[[Dataset], bytes]:
    """``to_bytes(ds)`` -> DICOM file bytes."""
    return dataset_bytes
