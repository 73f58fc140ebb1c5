from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pydicom
from PIL import Image

from mmcrnet.phantom.writer import write_cohort


def tree_digest(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def test_byte_for_byte_deterministic_across_worker_counts(tmp_path: Path) -> None:
    write_cohort(tmp_path / "a", 3, 21, images=True, workers=1)
    write_cohort(tmp_path / "b", 3, 21, images=True, workers=2)
    a, b = tree_digest(tmp_path / "a"), tree_digest(tmp_path / "b")
    assert a == b
    assert len(a) == 6 + 3 * (4 + 2)  # 6 tables + per case 4 DICOM files and 2 masks


def test_layout_and_dicom_tags(small_cohort_dir: Path) -> None:
    root = small_cohort_dir
    for name in (
        "cohort.json",
        "cases.csv",
        "timepoints.csv",
        "outcomes.csv",
        "truth/truth.csv",
        "truth/contributions.csv",
    ):
        assert (root / name).is_file(), name
    phases = [
        pydicom.dcmread(root / "images" / "PH00000" / "mri" / f"phase{i}.dcm") for i in (1, 2, 3)
    ]
    assert [int(ds.TemporalPositionIdentifier) for ds in phases] == [1, 2, 3]
    assert [float(ds.TriggerTime) for ds in phases] == [0.0, 90000.0, 360000.0]
    assert len({ds.SeriesInstanceUID for ds in phases}) == 1
    assert all(ds.Modality == "MR" and ds.PatientID == "PH00000" for ds in phases)
    assert [float(v) for v in phases[0].PixelSpacing] == [0.7, 0.7]
    mg = pydicom.dcmread(root / "images" / "PH00000" / "mammogram.dcm")
    assert mg.Modality == "MG" and mg.ViewPosition == "CC"
    assert mg.PhotometricInterpretation in ("MONOCHROME1", "MONOCHROME2")
    mask = np.asarray(Image.open(root / "truth" / "masks" / "PH00000_mri.png"))
    assert mask.shape == (224, 224) and set(np.unique(mask)) == {0, 255}
    # The tumour mask lies where the early phase enhances.
    early, pre = phases[1].pixel_array.astype(float), phases[0].pixel_array.astype(float)
    inside = mask > 0
    assert (early - pre)[inside].mean() > 3 * (early - pre)[~inside].mean()


def test_tables_only(tmp_path: Path) -> None:
    write_cohort(tmp_path, 50, 2, images=False)
    assert not (tmp_path / "images").exists()
    assert (tmp_path / "truth" / "truth.csv").is_file()


def test_examples_read_back_through_the_image_reader(examples_dir: Path) -> None:
    """Phantom DICOM -> mmcrnet.io: phases in order, MONOCHROME1 shown as dense = bright."""
    from scipy.ndimage import binary_dilation

    from mmcrnet.io import read_paths

    photometrics = set()
    for case in sorted((examples_dir / "images").iterdir()):
        mri = read_paths([case / "mri"])
        assert [p.time_s for p in mri.phases] == [0.0, 90.0, 360.0]
        mask = np.asarray(Image.open(examples_dir / "truth" / "masks" / f"{case.name}_mri.png")) > 0
        assert (mri.image[1] - mri.image[0])[mask].mean() > 0.1
        mg = read_paths([case / "mammogram.dcm"])
        photometrics.add(mg.photometric)
        assert mg.kind == "mammogram" and mg.pixel_spacing_mm == (0.9, 0.9)
        masks = examples_dir / "truth" / "masks"
        mask = np.asarray(Image.open(masks / f"{case.name}_mammogram.png")) > 0
        ring = binary_dilation(mask, iterations=6) & ~binary_dilation(mask, iterations=2)
        assert mg.image[0][mask].mean() > mg.image[0][ring].mean() + 0.03
    assert photometrics == {"MONOCHROME1", "MONOCHROME2"}
