"""A prediction as DICOM objects that a PACS viewer shows beside the images it was made from.

    explanation + study (with its DICOM headers) + guard -> DicomExport(objects, not_made)

- **Parametric Map** (DCE-MRI only): the response-axis Grad-CAM map, log P(pCR) - log P(none),
  as 32-bit float values in [-1, 1] over the shown slice, on the source slice's geometry. A
  Parametric Map needs a Frame of Reference, which a mammogram does not have.
- **Segmentation** (DCE-MRI and mammogram): binary, the strongest evidence: segment 1 where the
  map is at least :data:`STRONG` of its strongest value towards pCR (red), segment 2 the same
  towards no response (blue). Viewers that show no float map (OHIF) show this one.
- **Structured Report** (TID 1500): the three probabilities (DCM 122157 "Probability", each in a
  measurement group whose finding is the outcome, a private code), the predicted response, the
  algorithm (name, version, parameters, family "Artificial Intelligence", manufacturer), the
  research-use statement and the guard's verdict.

What is not made, and why, is in ``DicomExport.not_made``: maps of an image the model cannot
judge, mammogram maps (not reliable yet) unless asked for, empty segments.
"""

from __future__ import annotations

import io
import time
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypedDict

import highdicom as hd
import numpy as np
from pydicom.dataset import Dataset
from pydicom.sr.codedict import codes
from pydicom.sr.coding import Code

from mmcrnet.errors import OncoPredictError
from mmcrnet.explain import Explanation
from mmcrnet.features import OUTCOMES
from mmcrnet.guard import GuardReport
from mmcrnet.io import SliceSource, Study
from mmcrnet.io.dicom import file_bytes, header_only
from mmcrnet.report import APP_VERSION, DISCLAIMER, Pseudonyms, file_names

#: The private coding scheme of the codes DICOM has none for (named in the README).
PRIVATE_SCHEME = "99ONCOPRED"
PRIVATE_SCHEME_NAME = "OncoPredict private codes"
#: Share of the map's strongest absolute value from which a pixel is "strongest evidence".
STRONG = 0.5
MANUFACTURER = "OncoPredict"
SERIES_NUMBERS = {"Parametric Map": 9901, "Segmentation": 9902, "Structured Report": 9903}

OUTCOME_CODES: dict[str, Code] = {
    "pCR": Code("PCR", PRIVATE_SCHEME, "Pathologic complete response"),
    "partial": Code("PARTIAL", PRIVATE_SCHEME, "Partial response"),
    "none": Code("NONE", PRIVATE_SCHEME, "No response"),
}
RESPONSE_AXIS = Code("RESPAXIS", PRIVATE_SCHEME, "Response-axis evidence (Grad-CAM)")
TOWARDS_PCR = Code("TOWARDSPCR", PRIVATE_SCHEME, "Strongest evidence towards pCR")
TOWARDS_NONE = Code("TOWARDSNONE", PRIVATE_SCHEME, "Strongest evidence towards no response")
RESPONSE = Code("NACTRESPONSE", PRIVATE_SCHEME, "Response to neoadjuvant chemotherapy")
PREDICTED = Code("PREDICTED", PRIVATE_SCHEME, "Predicted response to neoadjuvant chemotherapy")
RELIABILITY = Code("RELIABILITY", PRIVATE_SCHEME, "Reliability of the prediction")
JUDGED = Code("JUDGED", PRIVATE_SCHEME, "Within what the model was trained on")
FLAGGED = Code("FLAGGED", PRIVATE_SCHEME, "Flagged: not a reliable answer for this case")
QUALITATIVE_EVALUATIONS = Code("C0034375", "UMLS", "Qualitative Evaluations")
NO_UNITS = Code("1", "UCUM", "no units")


class ExportUnavailable(OncoPredictError):
    """The prediction cannot be written as DICOM (no DICOM source images to reference)."""


@dataclass(frozen=True, eq=False)
class ExportedObject:
    """One DICOM object made: its kind ("Parametric Map", "Segmentation", "Structured
    Report"), the data set and what it holds, in a line."""

    kind: str
    dataset: Dataset
    description: str

    @property
    def file_name(self) -> str:
        return f"{self.kind.lower().replace(' ', '-')}-{self.dataset.SOPInstanceUID}.dcm"

    def to_bytes(self) -> bytes:
        return file_bytes(self.dataset)


@dataclass(frozen=True, eq=False)
class DicomExport:
    """The objects made, one line for each one not made, and how long it took."""

    objects: tuple[ExportedObject, ...]
    not_made: tuple[str, ...]
    seconds: float

    def zip_bytes(self) -> bytes:
        """Every object as a ``.dcm`` file in one zip, with a README line per object."""
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            lines = [f"{o.file_name}: {o.kind}: {o.description}" for o in self.objects]
            lines += [f"not made: {line}" for line in self.not_made]
            archive.writestr("README.txt", "\n".join([_ascii(DISCLAIMER), *lines]) + "\n")
            for exported in self.objects:
                archive.writestr(exported.file_name, exported.to_bytes())
        return buffer.getvalue()


def _ascii(text: str) -> str:
    """DICOM text in the default character set (ISO 646): the few non-ASCII characters our
    own sentences use, replaced."""
    out = text.replace("—", "-").replace("–", "-").replace("’", "'").replace("…", "...")
    return out.encode("ascii", "replace").decode("ascii")


def _short(text: str, limit: int = 64) -> str:
    """A value for a 64-character VR (LO)."""
    text = _ascii(text)
    return text if len(text) <= limit else text[: limit - 3] + "..."


#: Type 2 attributes of the patient and study modules: highdicom copies them from the source,
#: and a source may leave them out (the standard wants them present, if empty).
_TYPE2 = (
    "PatientName",
    "PatientID",
    "PatientBirthDate",
    "PatientSex",
    "StudyDate",
    "StudyTime",
    "ReferringPhysicianName",
    "StudyID",
    "AccessionNumber",
)


#: What every source must have for a result to reference it.
_IDENTIFIERS = ("SOPClassUID", "SOPInstanceUID", "StudyInstanceUID", "SeriesInstanceUID")
#: Projection modalities: no Frame of Reference, geometry from the detector.
_PROJECTION = ("MG", "CR", "DX", "RF", "XA", "IO", "PX")


def _source(header: Dataset) -> Dataset:
    """A copy of a source header (its own element table, the elements shared: nothing of the
    study's header changes) with the type 2 attributes highdicom reads present."""
    out = header_only(header)
    for keyword in _TYPE2:
        if keyword not in out:
            setattr(out, keyword, "")
    if "FrameOfReferenceUID" not in out and "PatientOrientation" not in out:
        out.PatientOrientation = ""  # type 2C for a projection image; the source left it out
    return out


def _read_phases(explanation: Explanation, study: Study) -> list[int]:
    """The study phases the model read (every phase when the explanation does not say)."""
    image = explanation.image
    indices = [p.index for p in image.phases] if image is not None and image.phases else []
    return indices or list(range(len(study.phases)))


def _shown_sources(explanation: Explanation, study: Study) -> list[SliceSource]:
    """The source of the shown slice in every phase the model read (the first is the one the
    map's geometry is taken from)."""
    out = []
    for k in _read_phases(explanation, study):
        sources = study.phases[k].slice_sources
        if len(sources) != study.shape[1]:
            raise ExportUnavailable(
                f"phase {study.phases[k].label!r} has no DICOM header for every slice"
            )
        source = sources[study.slice_index]
        missing = [k for k in _IDENTIFIERS if not source.header.get(k)]
        if missing:
            raise ExportUnavailable(
                f"the image of phase {study.phases[k].label!r} has no {', '.join(missing)}: a "
                "DICOM result cannot reference it"
            )
        out.append(source)
    return out


def _check_exportable(study: Study | None) -> Study:
    if study is None:
        raise ExportUnavailable(
            "the prediction read no image: a DICOM result references the DICOM images it was "
            "made from, their patient and study"
        )
    if any(not p.slice_sources for p in study.phases):
        raise ExportUnavailable(
            "the images are not DICOM files read in this session (PNG/JPEG, or a saved "
            "visit, whose images are kept without their headers): a DICOM result needs the "
            "source images' patient, study and instance identifiers"
        )
    if study.identity_override:
        raise ExportUnavailable(
            "the image files disagree on patient, study or frame of reference: a DICOM result "
            "cannot reference them as one study"
        )
    return study


def _algorithm_parameters(explanation: Explanation) -> dict[str, str]:
    prediction = explanation.prediction
    image = explanation.image
    return {
        "weights_sha256": prediction.weights_sha256[:16],
        "calibration": f"temperature {prediction.temperature:.4g}",
        "image": prediction.image_kind,
        "time_points": str(prediction.time_points),
        "map": f"Grad-CAM on {image.layer}" if image is not None else "none",
        "strongest": f"{STRONG:g} of the strongest absolute value",
    }


def _content_description(flagged: bool) -> str:
    return _short(
        ("FLAGGED, not reliable. " if flagged else "") + "Research use only, not clinical"
    )


def _series_description(what: str, flagged: bool) -> str:
    return _short(f"OncoPredict {what}{' FLAGGED' if flagged else ''} - RESEARCH USE ONLY")


class _Written(TypedDict):
    """What the Parametric Map and the Segmentation both say: the plane geometry of the source
    frame (explicit, as a multi-frame source needs; None where the frame has no position, a
    mammogram, and highdicom takes what the header has) and who wrote them."""

    pixel_measures: hd.PixelMeasuresSequence | None
    plane_orientation: hd.PlaneOrientationSequence | None
    plane_positions: list[hd.PlanePositionSequence] | None
    manufacturer: str
    manufacturer_model_name: str
    software_versions: str
    device_serial_number: str


def _written(
    explanation: Explanation, source: SliceSource, spacing: tuple[float, float] | None
) -> _Written:
    prediction = explanation.prediction
    written = _Written(
        pixel_measures=None,
        plane_orientation=None,
        plane_positions=None,
        manufacturer=MANUFACTURER,
        manufacturer_model_name=_short(prediction.model),
        software_versions=APP_VERSION,
        device_serial_number=prediction.weights_sha256[:16],
    )
    if source.position is None or source.orientation is None or spacing is None:
        return written
    thickness = source.header.get("SliceThickness")
    written["pixel_measures"] = hd.PixelMeasuresSequence(
        pixel_spacing=[float(spacing[0]), float(spacing[1])],
        slice_thickness=float(thickness) if thickness else None,
    )
    written["plane_orientation"] = hd.PlaneOrientationSequence(
        coordinate_system="PATIENT", image_orientation=[float(v) for v in source.orientation]
    )
    written["plane_positions"] = [
        hd.PlanePositionSequence(
            coordinate_system="PATIENT", image_position=[float(v) for v in source.position]
        )
    ]
    return written


def _parametric_map(
    explanation: Explanation,
    study: Study,
    axis: np.ndarray,
    sources: list[SliceSource],
    flagged: bool,
) -> Dataset:
    first, *rest = [_source(s.header) for s in sources]
    mapping = hd.pm.RealWorldValueMapping(
        lut_label="RESPAXIS",
        lut_explanation=_short("Grad-CAM: + towards pCR, - towards no response"),
        unit=NO_UNITS,
        value_range=(-1.0, 1.0),
        slope=1.0,
        intercept=0.0,
        quantity_definition=RESPONSE_AXIS,
    )
    pm = hd.pm.ParametricMap(
        source_images=[first],
        further_source_images=rest or None,
        pixel_array=axis.astype(np.float32)[np.newaxis],  # (1, H, W)
        series_instance_uid=hd.UID(),
        series_number=SERIES_NUMBERS["Parametric Map"],
        sop_instance_uid=hd.UID(),
        instance_number=1,
        contains_recognizable_visual_features=False,
        real_world_value_mappings=[mapping],
        voi_lut_transformations=[
            hd.VOILUTTransformation(
                window_center=0.0,
                window_width=2.0,
                window_explanation="-1 towards no response to +1 towards pCR",
            )
        ],
        content_label="RESPONSE_MAP",
        content_description=_content_description(flagged),
        series_description=_series_description("response map", flagged),
        **_written(explanation, sources[0], study.pixel_spacing_mm),
    )
    pm.Laterality = first.get("Laterality", "")
    return pm


def _segment(
    number: int,
    label: str,
    kind: Code,
    colour: tuple[int, int, int],
    algorithm: hd.AlgorithmIdentificationSequence,
) -> hd.seg.SegmentDescription:
    description = hd.seg.SegmentDescription(
        segment_number=number,
        segment_label=label,
        segmented_property_category=codes.cid7150.Tissue,
        segmented_property_type=kind,
        algorithm_type=hd.seg.SegmentAlgorithmTypeValues.AUTOMATIC,
        algorithm_identification=algorithm,
    )
    description.RecommendedDisplayCIELabValue = list(colour)
    return description


#: DICOM's scaled CIELab (0..65535) of red and of blue, for the two segments.
_RED = (34885, 53485, 50171)
_BLUE = (19594, 53655, 6050)


def _segmentation(
    explanation: Explanation,
    study: Study,
    axis: np.ndarray,
    source: SliceSource,
    flagged: bool,
    not_made: list[str],
) -> Dataset | None:
    peak = float(np.abs(axis).max())
    if peak <= 0:
        not_made.append("Segmentation: the map is zero everywhere, so it has no strongest part")
        return None
    prediction = explanation.prediction
    algorithm = hd.AlgorithmIdentificationSequence(
        name=_short(prediction.model),
        family=codes.cid7162.ArtificialIntelligence,
        version=_short(f"{APP_VERSION} weights {prediction.weights_sha256[:16]}"),
        source=MANUFACTURER,
        parameters=_algorithm_parameters(explanation),
    )
    wanted = [
        (axis >= STRONG * peak, "towards pCR", TOWARDS_PCR, _RED),
        (axis <= -STRONG * peak, "towards no response", TOWARDS_NONE, _BLUE),
    ]
    masks: list[np.ndarray] = []
    descriptions: list[hd.seg.SegmentDescription] = []
    for mask, label, kind, colour in wanted:
        if not mask.any():
            not_made.append(f"Segmentation segment '{label}': no pixel of the map is that strong")
            continue
        descriptions.append(_segment(len(descriptions) + 1, label, kind, colour, algorithm))
        masks.append(mask)
    pixels = np.stack(masks, axis=-1)[np.newaxis].astype(np.uint8)  # (1, H, W, segments)
    header = _source(source.header)
    seg = hd.seg.Segmentation(
        source_images=[header],
        pixel_array=pixels,
        segmentation_type=hd.seg.SegmentationTypeValues.BINARY,
        segment_descriptions=descriptions,
        series_instance_uid=hd.UID(),
        series_number=SERIES_NUMBERS["Segmentation"],
        sop_instance_uid=hd.UID(),
        instance_number=1,
        content_description=_content_description(flagged),
        series_description=_series_description("strongest evidence", flagged),
        content_label="EVIDENCE",
        **_written(explanation, source, study.pixel_spacing_mm),
    )
    if "FrameOfReferenceUID" not in header:  # a mammogram: the view's orientation instead
        seg.PatientOrientation = header.get("PatientOrientation", "")
    return seg


def _text(value: str) -> hd.sr.TextContentItem:
    return hd.sr.TextContentItem(
        name=codes.DCM.Comment,
        value=_ascii(value),
        relationship_type=hd.sr.RelationshipTypeValues.CONTAINS,
    )


def _report(
    explanation: Explanation,
    study: Study,
    guard: GuardReport,
    left_out: Sequence[str],
    evidence: list[Dataset],
    shown: list[Dataset],
) -> Dataset:
    prediction = explanation.prediction
    flagged = not guard.ok
    algorithm = hd.sr.AlgorithmIdentification(
        name=_short(prediction.model),
        version=_short(f"{APP_VERSION} weights {prediction.weights_sha256[:16]}"),
        parameters=[f"{k}={v}" for k, v in _algorithm_parameters(explanation).items()],
        family=codes.cid7162.ArtificialIntelligence,
        manufacturer=MANUFACTURER,
    )
    groups = [  # the answer in a group of its own, then one group per outcome
        hd.sr.MeasurementsAndQualitativeEvaluations(
            tracking_identifier=hd.sr.TrackingIdentifier(
                uid=hd.UID(), identifier="OncoPredict predicted response"
            ),
            finding_type=RESPONSE,
            algorithm_id=algorithm,
            qualitative_evaluations=[
                hd.sr.QualitativeEvaluation(
                    PREDICTED, OUTCOME_CODES[prediction.label] if not flagged else FLAGGED
                ),
                hd.sr.QualitativeEvaluation(RELIABILITY, FLAGGED if flagged else JUDGED),
            ],
        )
    ]
    for outcome in OUTCOMES:
        groups.append(
            hd.sr.MeasurementsAndQualitativeEvaluations(
                tracking_identifier=hd.sr.TrackingIdentifier(
                    uid=hd.UID(), identifier=f"OncoPredict outcome {outcome}"
                ),
                finding_type=OUTCOME_CODES[outcome],
                algorithm_id=algorithm,
                measurements=[
                    hd.sr.Measurement(
                        name=codes.DCM.Probability,
                        value=round(float(prediction.probabilities[outcome]), 6),
                        unit=NO_UNITS,
                        algorithm_id=algorithm,
                    )
                ],
            )
        )
    context = hd.sr.ObservationContext(
        observer_device_context=hd.sr.ObserverContext(
            observer_type=codes.DCM.Device,
            observer_identifying_attributes=hd.sr.DeviceObserverIdentifyingAttributes(
                uid=hd.UID(),
                name="OncoPredict",
                manufacturer_name=MANUFACTURER,
                model_name=_short(prediction.model),
            ),
        )
    )
    report = hd.sr.MeasurementReport(
        observation_context=context,
        procedure_reported=codes.SCT.ImagingProcedure,  # 363679005, CID 100
        imaging_measurements=groups,
        referenced_images=shown,
    )
    names = Pseudonyms(file_names(study))
    lines = [
        f"{DISCLAIMER} Model {prediction.model}, trained on {prediction.training_data}.",
        "Probabilities calibrated on the phantom validation split."
        if not flagged
        else "Flagged: not a reliable answer for this case; the probabilities are not "
        "calibrated for a case like this one: "
        + "; ".join([*guard.image_reasons, *guard.tabular_reasons]),
        *(f"Not read by the model: {names.text(line)}" for line in left_out),
    ]
    container = hd.sr.ContainerContentItem(
        name=QUALITATIVE_EVALUATIONS, relationship_type=hd.sr.RelationshipTypeValues.CONTAINS
    )
    container.ContentSequence = hd.sr.ContentSequence([_text(line) for line in lines])
    report[0].ContentSequence.append(container)
    sr = hd.sr.Comprehensive3DSR(
        evidence=evidence,
        content=report[0],
        series_number=SERIES_NUMBERS["Structured Report"],
        series_instance_uid=hd.UID(),
        sop_instance_uid=hd.UID(),
        instance_number=1,
        manufacturer=MANUFACTURER,
        series_description=_series_description("prediction", flagged),
        is_complete=True,
    )
    scheme = Dataset()
    scheme.CodingSchemeDesignator = PRIVATE_SCHEME
    scheme.CodingSchemeName = PRIVATE_SCHEME_NAME
    scheme.CodingSchemeResponsibleOrganization = MANUFACTURER
    sr.CodingSchemeIdentificationSequence = [scheme]
    return sr


def export_dicom(
    explanation: Explanation,
    study: Study | None,
    guard: GuardReport,
    *,
    left_out: Sequence[str] = (),
    include_unreliable_maps: bool = False,
) -> DicomExport:
    """The prediction as DICOM objects referencing the images it was made from.

    Args:
        explanation: the explained prediction (its maps are over ``study``'s shown slice).
        study: the study as predicted, read from DICOM files in this session.
        guard: the guard's verdict: a flagged case says so in every object; the maps of an
            image the model cannot judge are not made.
        left_out: what the model did not read, in lines (file names become "file N").
        include_unreliable_maps: make the mammogram's map objects although mammogram maps are
            not reliable yet (the user asked to see them). Default False.

    Raises:
        ExportUnavailable: no DICOM images to reference (none read, PNG/JPEG, a saved visit),
            or images that disagree on patient or study.
    """
    start = time.perf_counter()
    study = _check_exportable(study)
    sources = _shown_sources(explanation, study)
    flagged = not guard.ok
    not_made: list[str] = []
    objects: list[ExportedObject] = []
    image = explanation.image
    axis = image.axis_maps.get("gradcam") if image is not None else None
    if image is None or axis is None:
        not_made.append("maps: the prediction has no image map")
    elif not guard.image_ok:
        not_made.append(
            "maps: the model cannot judge this image ("
            + "; ".join(guard.image_reasons)
            + "), so its maps are not evidence"
        )
    elif image.kind == "mammogram" and not include_unreliable_maps:
        not_made.append(
            "maps: mammogram maps are not reliable yet (they light up background and borders "
            "more than the tumour); they are made only when you ask to see them"
        )
    else:
        objects += _maps(explanation, study, axis, sources, flagged, not_made)
    evidence = _evidence(study, explanation)
    shown = [_source(s.header) for s in sources if _describable(s)]
    try:
        sr = _report(explanation, study, guard, left_out, evidence, shown)
    except (ValueError, AttributeError, TypeError) as exc:  # what highdicom says of a source
        raise ExportUnavailable(
            f"the source images' headers do not make a valid report ({_one_line(exc)})"
        ) from None
    probabilities = ", ".join(
        f"{o} {explanation.prediction.probabilities[o]:.3f}" for o in OUTCOMES
    )
    objects.append(
        ExportedObject(
            "Structured Report",
            sr,
            f"the probabilities ({probabilities}), the algorithm and the research-use statement"
            + (" (flagged)" if flagged else ""),
        )
    )
    return DicomExport(tuple(objects), tuple(not_made), time.perf_counter() - start)


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())[:200] or type(exc).__name__


def _describable(source: SliceSource) -> bool:
    """Whether the SR's image library can describe the source: highdicom reads a
    cross-sectional image's geometry from its top-level attributes and a projection image's
    Patient Orientation; a multi-frame image (geometry in functional groups) or one without
    them stays in the evidence list only."""
    header = source.header
    if int(header.get("NumberOfFrames", 1) or 1) > 1:
        return False
    if "FrameOfReferenceUID" in header:
        return all(
            k in header for k in ("PixelSpacing", "ImageOrientationPatient", "ImagePositionPatient")
        )
    return len(header.get("PatientOrientation", "")) == 2


def _maps(
    explanation: Explanation,
    study: Study,
    axis: np.ndarray,
    sources: list[SliceSource],
    flagged: bool,
    not_made: list[str],
) -> list[ExportedObject]:
    """The Parametric Map and the Segmentation, each where the source allows it."""
    first = sources[0]
    header = first.header
    projection = str(header.get("Modality", "")).upper() in _PROJECTION
    has_frame = header.get("FrameOfReferenceUID") is not None
    objects: list[ExportedObject] = []
    if projection:
        not_made.append(
            "Parametric Map: a projection image (a mammogram) has no Frame of Reference, which "
            "a Parametric Map requires; the Segmentation carries the map instead"
        )
    elif not has_frame or first.position is None or first.orientation is None:
        not_made.append(
            "Parametric Map and Segmentation: the images have no Frame of Reference or no "
            "position and orientation, which both need over a cross-sectional image"
        )
        return objects
    elif study.pixel_spacing_mm is None:
        not_made.append(
            "Parametric Map and Segmentation: the images have no pixel spacing, which both need "
            "over a cross-sectional image"
        )
        return objects
    else:
        try:
            pm = _parametric_map(explanation, study, axis, sources, flagged)
        except (ValueError, AttributeError, TypeError) as exc:  # highdicom on the source
            not_made.append(
                f"Parametric Map: the source images do not allow one ({_one_line(exc)})"
            )
        else:
            objects.append(
                ExportedObject(
                    "Parametric Map",
                    pm,
                    "response-axis map (float, -1 towards no response to +1 towards pCR)",
                )
            )
    try:
        seg = _segmentation(explanation, study, axis, first, flagged, not_made)
    except (ValueError, AttributeError, TypeError) as exc:
        not_made.append(f"Segmentation: the source images do not allow one ({_one_line(exc)})")
        seg = None
    if seg is not None:
        segments = ", ".join(s.SegmentLabel for s in seg.SegmentSequence)
        objects.append(
            ExportedObject(
                "Segmentation",
                seg,
                f"strongest evidence, binary ({segments}; >= {STRONG:g} of the strongest)",
            )
        )
    return objects


def _evidence(study: Study, explanation: Explanation) -> list[Dataset]:
    """Every source file of the phases the model read, once each."""
    seen: dict[str, Dataset] = {}
    for k in _read_phases(explanation, study):
        for source in study.phases[k].slice_sources:
            uid = str(source.header.SOPInstanceUID)
            if uid not in seen:
                seen[uid] = _source(source.header)
    return list(seen.values())
