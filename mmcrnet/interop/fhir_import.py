"""The clinical and genomic form from an HL7 FHIR R4 Bundle following mCODE.

    bundle bytes -> fhir.resources R4B models -> FhirImport(static, baseline, imported, not_mapped)

Read: age (Patient.birthDate at the cancer's onset or recorded date, else the earliest
observation's), menopausal status, clinical T and N, ER / PR / Ki-67 percentages, HER2 status,
BMI, histology (the mCODE histology extension), the baseline tumour size (the longest
dimension), and BRCA1/2 (germline), TP53 and PIK3CA (somatic) variants. Every element it
cannot map gets one line in ``not_mapped`` saying why; nothing else of the form changes. The
codes are in :mod:`mmcrnet.interop.mcode`.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass, field

from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.codeableconcept import CodeableConcept
from fhir.resources.R4B.condition import Condition
from fhir.resources.R4B.observation import Observation
from fhir.resources.R4B.patient import Patient
from fhir.resources.R4B.quantity import Quantity
from fhir.resources.R4B.resource import Resource
from pydantic import ValidationError

from mmcrnet.errors import InvalidCase, OncoPredictError
from mmcrnet.features import FEATURES_BY_NAME, echo_value
from mmcrnet.interop import mcode

MAX_BYTES = 5 << 20  # a patient's bundle of a few dozen resources is far smaller


@dataclass(frozen=True)
class FhirImport:
    """What a Bundle gives the form: static values, the baseline (T0) per-time-point values,
    one line per value imported and one per element not mapped."""

    static: dict[str, object]
    baseline: dict[str, object]
    imported: tuple[str, ...]
    not_mapped: tuple[str, ...]
    patient_ids: tuple[str, ...] = ()  # Patient.identifier values, to check against the images

    def other_patient(self, image_patient_id: str | None) -> bool:
        """True when the bundle names its patient and the images' Patient ID is none of them."""
        if not image_patient_id or not self.patient_ids:
            return False
        return image_patient_id.strip() not in self.patient_ids


@dataclass
class _Found:
    """Values found for a feature, with where each came from, before conflicts are settled."""

    values: dict[str, list[tuple[object, str]]] = field(default_factory=dict)
    sizes: list[tuple[float, dt.date | None, str]] = field(default_factory=list)  # cm, when
    not_mapped: list[str] = field(default_factory=list)

    def add(self, name: str, value: object, where: str) -> None:
        self.values.setdefault(name, []).append((value, where))


def _codings(concept: CodeableConcept | None) -> list[tuple[str, str, str]]:
    """(system, code, display) of every coding of a CodeableConcept (empty for None)."""
    if concept is None:
        return []
    return [
        (str(c.system or ""), str(c.code or ""), str(c.display or c.code or ""))
        for c in concept.coding or []
    ]


def _where(resource: Resource) -> str:
    kind = resource.get_resource_type()
    ident = f" '{echo_value(resource.id)}'" if getattr(resource, "id", None) else ""
    code = getattr(resource, "code", None)  # not a CodeableConcept in every resource type
    shown = ""
    if isinstance(code, CodeableConcept) and _codings(code):
        system, value, display = _codings(code)[0]
        short = {mcode.LOINC: "LOINC", mcode.SNOMED: "SNOMED"}.get(system, system or "no system")
        shown = f" ({short} {echo_value(value)} '{echo_value(display, 40)}')"
    return f"{kind}{ident}{shown}"


def _date(value: object) -> dt.date | None:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    return None  # partial dates ("1965", "1965-03") stay text: not exact enough for an age


def _quantity(quantity: Quantity | None, where: str, found: _Found) -> tuple[float, str] | None:
    if quantity is None or quantity.value is None:
        found.not_mapped.append(f"{where}: no numeric value")
        return None
    if quantity.comparator:  # "<1 %" is not 1 %
        found.not_mapped.append(
            f"{where}: '{echo_value(quantity.comparator)} {float(quantity.value):g}' is a bound, "
            "not a value; not imported: enter the value in the form"
        )
        return None
    return float(quantity.value), str(quantity.code or quantity.unit or "")


#: Observation statuses whose values are results; the others are not imported.
_RESULT_STATUSES = ("final", "amended", "corrected")


def _observation(resource: Observation, found: _Found) -> None:
    where = _where(resource)
    if resource.status not in _RESULT_STATUSES:
        found.not_mapped.append(
            f"{where}: status '{echo_value(resource.status)}' is not a result (final, amended or "
            "corrected); not imported"
        )
        return
    codes = {(s, c) for s, c, _ in _codings(resource.code)}
    loinc = {c for s, c in codes if s == mcode.LOINC}
    value = resource.valueCodeableConcept
    value_codes = {(s, c) for s, c, _ in _codings(value)}
    if loinc & set(mcode.PERCENT_CODES):
        name = mcode.PERCENT_CODES[sorted(loinc & set(mcode.PERCENT_CODES))[0]]
        got = _quantity(resource.valueQuantity, where, found)
        if got is not None:
            number, unit = got
            if unit != "%":
                found.not_mapped.append(f"{where}: unit '{echo_value(unit)}' is not %")
            else:
                found.add(name, number, where)
    elif loinc & set(mcode.PRESENCE_CODES):
        marker = mcode.PRESENCE_CODES[sorted(loinc & set(mcode.PRESENCE_CODES))[0]]
        found.not_mapped.append(
            f"{where}: {marker} positive/negative without a percentage; the model reads the "
            f"percentage of {marker}-positive cells: enter it in the form"
        )
    elif loinc & set(mcode.HER2_CODES):
        if value_codes & mcode.POSITIVE:
            found.add("her2_status", "positive", where)
        elif value_codes & mcode.NEGATIVE:
            found.add("her2_status", "negative", where)
        else:
            shown = ", ".join(d for _, _, d in _codings(value)) or "no coded value"
            found.not_mapped.append(
                f"{where}: HER2 '{echo_value(shown, 40)}' is neither positive nor negative"
            )
    elif mcode.BMI_CODE in loinc:
        got = _quantity(resource.valueQuantity, where, found)
        if got is not None and got[1] in ("kg/m2", "kg/m^2"):
            found.add("bmi", got[0], where)
        elif got is not None:
            found.not_mapped.append(f"{where}: unit '{echo_value(got[1])}' is not kg/m2")
    elif codes & mcode.MENOPAUSE_CODES:
        status = next(
            (mcode.MENOPAUSE_VALUES[c] for c in value_codes if c in mcode.MENOPAUSE_VALUES), None
        )
        if status is None:
            found.not_mapped.append(f"{where}: the model reads pre- or post-menopausal only")
        else:
            found.add("menopausal_status", status, where)
    elif codes & set(mcode.T_CATEGORY) or codes & set(mcode.N_CATEGORY):
        _stage(codes, value, where, found)
    elif codes & set(mcode.NOT_INPUTS):
        what = mcode.NOT_INPUTS[sorted(codes & set(mcode.NOT_INPUTS))[0]]
        found.not_mapped.append(f"{where}: {what} is not an input of the model (T and N are)")
    elif mcode.TUMOR_SIZE in loinc:
        _tumour_size(resource, where, found)
    elif mcode.GENOMIC_VARIANT in loinc:
        _variant(resource, value_codes, where, found)
    else:
        found.not_mapped.append(f"{where}: not an input of the model")


_STAGE_TEXT = re.compile(r"^c?(?P<kind>[TN])(?P<number>[0-4])(?:mi|[a-d]|\(.*\))?$", re.I)


def _stage(
    codes: set[tuple[str, str]], value: CodeableConcept | None, where: str, found: _Found
) -> None:
    is_t = bool(codes & set(mcode.T_CATEGORY))
    table = mcode.T_CATEGORY if is_t else mcode.N_CATEGORY
    name, values = ("t_stage", mcode.T_VALUES) if is_t else ("n_stage", mcode.N_VALUES)
    kind = table[sorted(codes & set(table))[0]]
    if kind == "pathologic":
        found.not_mapped.append(
            f"{where}: a pathologic (after surgery) category; the form's {'T' if is_t else 'N'} "
            "stage is the clinical one before treatment"
        )
        return
    for system, code, _ in _codings(value):
        if system == mcode.SNOMED and code in values:
            found.add(name, values[code], where)
            return
        match = _STAGE_TEXT.match(code if system == mcode.AJCC else "")
        if match and match["kind"].upper() == ("T" if is_t else "N"):
            number = int(match["number"])
            if (is_t and number >= 1) or not is_t:
                found.add(name, number, where)
                return
    shown = ", ".join(d for _, _, d in _codings(value)) or "no coded value"
    allowed = "cT1 to cT4" if is_t else "cN0 to cN3"
    found.not_mapped.append(f"{where}: '{echo_value(shown, 40)}' is not one of {allowed}")


def _tumour_size(resource: Observation, where: str, found: _Found) -> None:
    for component in resource.component or []:
        if any(c == mcode.LONGEST_DIMENSION for _, c, _ in _codings(component.code)):
            got = _quantity(component.valueQuantity, where, found)
            if got is None:
                return
            number, unit = got
            factor = {"cm": 1.0, "mm": 0.1}.get(unit)
            if factor is None:
                found.not_mapped.append(f"{where}: unit '{echo_value(unit)}' is not cm or mm")
                return
            found.sizes.append(
                (round(number * factor, 3), _date(resource.effectiveDateTime), where)
            )
            return
    found.not_mapped.append(f"{where}: no longest dimension (LOINC {mcode.LONGEST_DIMENSION})")


def _variant(
    resource: Observation, value_codes: set[tuple[str, str]], where: str, found: _Found
) -> None:
    """One gene's variant: the gene by HGNC id (or symbol), its source class, its clinical
    significance (a benign or uncertain variant is not the form's mutation)."""
    gene = source = significance = None
    for component in resource.component or []:
        kinds = {c for _, c, _ in _codings(component.code)}
        values = _codings(component.valueCodeableConcept)
        if mcode.GENE_STUDIED in kinds:
            for system, code, display in values:
                if system in mcode.HGNC_SYSTEMS:
                    text = code.upper().removeprefix("HGNC:")
                    gene = mcode.GENE_SYMBOLS.get(text, text)
                elif display.upper() in mcode.GENE_SYMBOLS:
                    gene = mcode.GENE_SYMBOLS[display.upper()]
        elif mcode.SOURCE_CLASS in kinds:
            source = next((c for _, c, _ in values if c in (mcode.GERMLINE, mcode.SOMATIC)), None)
        elif mcode.SIGNIFICANCE in kinds:
            significance = values[0] if values else None
    if gene not in mcode.GENES:
        shown = f"gene {echo_value(gene)}" if gene else "no HGNC gene"
        found.not_mapped.append(
            f"{where}: {shown} is not one the model reads (BRCA1/2, TP53, PIK3CA)"
        )
        return
    symbol, name, wanted = mcode.GENES[gene]
    if source is not None and source != wanted:
        kind = "germline" if wanted == mcode.GERMLINE else "somatic"
        found.not_mapped.append(
            f"{where}: {symbol} here is not {kind}, which is what the form's value means"
        )
        return
    codes = {c for s, c in value_codes if s == mcode.LOINC}
    if mcode.PRESENT in codes:
        if significance is not None and significance[1] not in mcode.PATHOGENIC:
            found.not_mapped.append(
                f"{where}: {symbol} variant of significance '{echo_value(significance[2], 40)}'; "
                "the form's value means a pathogenic one; not imported"
            )
            return
        found.add(name, "yes", where)
    elif mcode.ABSENT in codes:
        found.add(name, "no", where)
    else:
        found.not_mapped.append(
            f"{where}: {symbol}: neither present (LA9633-4) nor absent (LA9634-2)"
        )


def _is_breast_cancer(resource: Condition) -> bool:
    """The primary breast cancer: mCODE's profile, the histology extension, or a breast-cancer
    code (SNOMED 254837009 and its female / left / right forms, ICD-10 C50)."""
    profiles = [str(p) for p in (resource.meta.profile or [])] if resource.meta else []
    if any(p.endswith("mcode-primary-cancer-condition") for p in profiles):
        return True
    if any(e.url == mcode.HISTOLOGY_EXTENSION for e in resource.extension or []):
        return True
    for system, code, _ in _codings(resource.code):
        if (system, code) in mcode.BREAST_CANCER or (
            system == mcode.ICD_10 and code.upper().startswith("C50")
        ):
            return True
    return False


def _condition(resource: Condition, found: _Found) -> dt.date | None:
    """Histology of the primary breast cancer, and its onset (or recorded) date; other
    conditions, and refuted or erroneous ones, are said."""
    where = _where(resource)
    status = {c for _, c, _ in _codings(resource.verificationStatus)}
    if status & {"refuted", "entered-in-error"}:
        found.not_mapped.append(
            f"{where}: verification status {', '.join(sorted(status))}; not read"
        )
        return None
    if not _is_breast_cancer(resource):
        found.not_mapped.append(
            f"{where}: not the primary breast cancer; not an input of the model"
        )
        return None
    seen = False
    for extension in resource.extension or []:
        if extension.url != mcode.HISTOLOGY_EXTENSION:
            continue
        seen = True
        codes = {(s, c) for s, c, _ in _codings(extension.valueCodeableConcept)}
        kind = next((mcode.HISTOLOGY_VALUES[c] for c in codes if c in mcode.HISTOLOGY_VALUES), None)
        if kind is None:
            shown = ", ".join(d for _, _, d in _codings(extension.valueCodeableConcept))
            found.not_mapped.append(
                f"{where}: histology '{echo_value(shown, 40)}' is neither invasive ductal nor "
                "lobular"
            )
        else:
            found.add("histology", kind, where)
    if not seen:
        found.not_mapped.append(f"{where}: no histology (mCODE histology-morphology-behavior)")
    return _date(resource.onsetDateTime) or _date(resource.recordedDate)


def _parse(name: str, data: bytes) -> Bundle:
    if len(data) > MAX_BYTES:
        raise InvalidCase(f"{name}: {len(data)} bytes is too large for one patient's bundle")
    try:
        document = json.loads(data.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError, RecursionError):  # JSONDecodeError is a ValueError
        raise InvalidCase(f"{name}: not a FHIR JSON file (not valid UTF-8 JSON)") from None
    if not isinstance(document, dict) or document.get("resourceType") != "Bundle":
        kind = document.get("resourceType") if isinstance(document, dict) else None
        raise InvalidCase(
            f"{name}: not a FHIR Bundle (resourceType {echo_value(kind)!s})"
            if kind
            else f"{name}: not a FHIR Bundle (no resourceType)"
        )
    try:
        return Bundle.model_validate(document)
    except ValidationError as exc:
        error = exc.errors()[0]
        place = ".".join(str(p) for p in error.get("loc", ()))
        raise InvalidCase(
            f"{name}: not a valid FHIR R4 Bundle at {echo_value(place, 60)}: "
            f"{echo_value(error.get('msg', ''), 80)}"
        ) from None
    except KeyError as exc:  # fhir.resources' lookup of a resource type R4B does not have
        raise InvalidCase(
            f"{name}: the bundle holds a resource type the FHIR R4B models do not know "
            f"({echo_value(str(exc), 40)})"
        ) from None
    except RecursionError:
        raise InvalidCase(f"{name}: the bundle is nested too deeply to read") from None


def _settle(found: _Found, name: str, entries: list[tuple[object, str]]) -> object | None:
    if name == "brca_germline":  # BRCA1 and BRCA2 tested apart: either present means yes
        entries = [e for e in entries if e[0] == "yes"] or entries[:1]
    distinct = list(dict.fromkeys(str(v) for v, _ in entries))
    if len(distinct) > 1:
        found.not_mapped.append(
            f"{FEATURES_BY_NAME[name].label}: the bundle gives {' and '.join(distinct)} "
            f"({'; '.join(w for _, w in entries)}); not imported, choose in the form"
        )
        return None
    value = entries[0][0]
    try:
        FEATURES_BY_NAME[name].parse(value)
    except OncoPredictError as exc:
        message = str(exc)  # "ki67_percent: ..." -> "Ki-67 index: ...", the form's name
        if message.startswith(f"{name}:"):
            message = FEATURES_BY_NAME[name].label + message[len(name) :]
        found.not_mapped.append(f"{entries[0][1]}: {message}; not imported")
        return None
    return value


def read_fhir_bundle(name: str, data: bytes) -> FhirImport:
    """Map an mCODE Bundle onto the form.

    Raises:
        InvalidCase: not UTF-8 JSON, not a Bundle, or a Bundle the R4 models refuse (one line
            naming the file and the first bad element).
    """
    bundle = _parse(name, data)
    found = _Found()
    birth: dt.date | None = None
    onsets: list[dt.date] = []
    patient_ids: list[str] = []
    patients = [e.resource for e in bundle.entry or [] if isinstance(e.resource, Patient)]
    if len(patients) > 1:
        raise InvalidCase(
            f"{name}: the bundle holds {len(patients)} patients; import one patient's bundle"
        )
    effective: list[dt.date] = []
    for entry in bundle.entry or []:
        resource = entry.resource
        if resource is None:
            found.not_mapped.append("an entry without a resource")
            continue
        if isinstance(resource, Patient):
            birth = _date(resource.birthDate)
            if birth is None:
                found.not_mapped.append(
                    f"{_where(resource)}: no full birth date, so no age"
                    if resource.birthDate is None
                    else f"{_where(resource)}: birth date '{echo_value(resource.birthDate)}' is "
                    "not a full date, so no age"
                )
            patient_ids += [str(i.value).strip() for i in resource.identifier or [] if i.value]
            found.not_mapped.append(
                f"{_where(resource)}: only the birth date is read (for the age) and the "
                "identifiers (to check they match the images' Patient ID); name, address and "
                "the rest are not read"
            )
        elif isinstance(resource, Condition):
            onset = _condition(resource, found)
            if onset is not None:
                onsets.append(onset)
        elif isinstance(resource, Observation):
            _observation(resource, found)
            when = _date(resource.effectiveDateTime)
            if when is not None:
                effective.append(when)
        else:
            found.not_mapped.append(f"{_where(resource)}: not an input of the model")
    onset = min(onsets) if onsets else None  # the first diagnosis, if several are recorded
    reference = onset or (min(effective) if effective else None)
    if birth is not None and reference is not None:
        years = round((reference - birth).days / 365.25, 1)
        what = "diagnosis" if onset else "the earliest observation"
        found.add("age", years, f"Patient.birthDate at {what} ({reference.isoformat()})")
    elif birth is not None:
        found.not_mapped.append(
            "Patient.birthDate: no date of diagnosis or observation to give an age at"
        )
    static: dict[str, object] = {}
    baseline: dict[str, object] = {}
    imported: list[str] = []
    if found.sizes:
        found.values["tumor_diameter_cm"] = _baseline_size(found)
    for feature, entries in found.values.items():
        value = _settle(found, feature, entries)
        if value is None:
            continue
        label = FEATURES_BY_NAME[feature].label
        unit = FEATURES_BY_NAME[feature].unit
        if feature == "tumor_diameter_cm":
            baseline[feature] = value
            imported.append(f"{label} at T0: {value:g} cm ({entries[0][1]})")
        else:
            static[feature] = value
            shown = f"{value:g}" if isinstance(value, float) else str(value)
            imported.append(
                f"{label}: {shown}{' ' + unit if unit and unit != 'z' else ''} ({entries[0][1]})"
            )
    return FhirImport(
        static, baseline, tuple(imported), _summarised(found.not_mapped), tuple(patient_ids)
    )


#: How many "not an input of the model" lines are listed one by one before the rest are counted.
LISTED = 20


def _summarised(lines: list[str]) -> tuple[str, ...]:
    """Every line, except that resources the model has no input for are listed up to
    :data:`LISTED` and the rest counted by resource type (a patient's whole record can hold
    thousands)."""
    other = [line for line in lines if line.endswith("not an input of the model")]
    if len(other) <= LISTED:
        return tuple(lines)
    rest = other[LISTED:]
    dropped = set(map(id, rest))
    counts: dict[str, int] = {}
    for line in rest:
        kind = line.split(" ", 1)[0].split(":", 1)[0]
        counts[kind] = counts.get(kind, 0) + 1
    summary = ", ".join(f"{n} {kind}" for kind, n in sorted(counts.items(), key=lambda kv: -kv[1]))
    kept = [line for line in lines if id(line) not in dropped]
    return (*kept, f"{len(rest)} more resources that are not inputs of the model ({summary})")


def _baseline_size(found: _Found) -> list[tuple[object, str]]:
    """The earliest tumour size is the baseline; later ones are said, not placed."""
    first = min((when for _, when, _ in found.sizes if when is not None), default=None)
    keep: list[tuple[object, str]] = []
    for size, when, where in found.sizes:
        if when is None or when == first:
            keep.append((size, where))
        else:
            found.not_mapped.append(
                f"{where}: a later tumour size ({size:g} cm on {when.isoformat()}); not placed "
                "on a time point: enter it in the time-point table"
            )
    return keep
