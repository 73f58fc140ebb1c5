"""Modality codes: the code a user gives for PNG/JPEG images, and the kind of study."""

from __future__ import annotations

_MODALITY_ALIASES = {"MRI": "MR", "MAMMOGRAM": "MG", "MAMMOGRAPHY": "MG", "MAMMO": "MG"}


def normalise_modality(modality: str | None) -> str | None:
    """The DICOM code for a user's modality ("mri" -> "MR", "mammo" -> "MG"); None if blank."""
    if modality is None or not modality.strip():
        return None
    code = modality.strip().upper()
    return _MODALITY_ALIASES.get(code, code)


def study_kind(modality: str, body_parts: set[str], sop_classes: set[str]) -> str:
    """ "mri", "mammogram", "ct" or "other", from the modality, BodyPartExamined values and SOP
    classes of the files."""
    if modality == "MR":
        return "mri"
    if modality == "MG" or any("Mammography" in s for s in sop_classes):
        return "mammogram"
    if modality in ("DX", "CR") and "BREAST" in body_parts:
        return "mammogram"
    if modality == "CT":
        return "ct"
    return "other"
