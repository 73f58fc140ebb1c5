"""The mCODE (STU3/STU4) codes the FHIR import reads, and the example Bundle a case's values
make (what ``assets/fhir/`` ships).

Sources: the mCODE FSH source (HL7/fhir-mCODE-ig: TumorMarkerTestVS, TumorSize, the TNM
profiles, GenomicVariant, the histology extension), the HL7 ICHOM breast cancer IG for
menopausal status (mCODE has none), and the breast AJCC SNOMED tables of the CMS Enhancing
Oncology Model guide. Ki-67 is not in mCODE's tumour-marker list (its binding is extensible):
LOINC 85330-9 (breast) and 29593-1 (tissue) as other FHIR guides use them.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping

from mmcrnet.features import FEATURES_BY_NAME

LOINC = "http://loinc.org"
SNOMED = "http://snomed.info/sct"
UCUM = "http://unitsofmeasure.org"
AJCC = "http://cancerstaging.org"
ICD_O_3 = "http://terminology.hl7.org/CodeSystem/icd-o-3"
ICD_10 = "http://hl7.org/fhir/sid/icd-10-cm"
HGNC_SYSTEMS = ("http://www.genenames.org", "http://www.genenames.org/geneId")
HISTOLOGY_EXTENSION = (
    "http://hl7.org/fhir/us/mcode/StructureDefinition/mcode-histology-morphology-behavior"
)
PROFILE = "http://hl7.org/fhir/us/mcode/StructureDefinition/"

#: Tumour-marker percentages: LOINC -> feature.
PERCENT_CODES: dict[str, str] = {
    "85329-1": "er_percent",  # Cells.estrogen receptor/100 cells in Breast cancer specimen
    "14228-1": "er_percent",  # ... in Tissue by Immune stain
    "85325-9": "pr_percent",
    "14230-7": "pr_percent",
    "85330-9": "ki67_percent",  # Cells.Ki-67 nuclear Ag/cells in Breast cancer specimen
    "29593-1": "ki67_percent",
}
#: Receptor presence without a percentage: LOINC -> what it is (the model reads percentages).
PRESENCE_CODES: dict[str, str] = {
    "85337-4": "ER",
    "16112-5": "ER",
    "40556-3": "ER",
    "85339-0": "PR",
    "16113-3": "PR",
    "40557-1": "PR",
}
HER2_CODES = ("48676-1", "85319-2", "85318-4", "18474-7")  # interpretation first
POSITIVE = {(LOINC, "LA6576-8"), (SNOMED, "10828004"), (SNOMED, "427685000")}
NEGATIVE = {(LOINC, "LA6577-6"), (SNOMED, "260385009"), (SNOMED, "431396003")}
BMI_CODE = "39156-5"
TUMOR_SIZE = "21889-1"
LONGEST_DIMENSION = "33728-7"

MENOPAUSE_CODES = {(SNOMED, "161712005")}
MENOPAUSE_VALUES: dict[tuple[str, str], str] = {
    (SNOMED, "309606002"): "pre",  # Before menopause
    (SNOMED, "22636003"): "pre",  # Premenopausal
    (SNOMED, "307429007"): "post",  # After menopause
    (SNOMED, "76498008"): "post",  # Postmenopausal
}

#: T and N category observations: (system, code) -> "clinical" or "pathologic".
T_CATEGORY: dict[tuple[str, str], str] = {
    (SNOMED, "399504009"): "clinical",
    (SNOMED, "78873005"): "clinical",  # generic T category: read as clinical
    (LOINC, "21905-5"): "clinical",
    (LOINC, "21911-3"): "clinical",
    (SNOMED, "384625004"): "pathologic",
    (LOINC, "21899-0"): "pathologic",
}
N_CATEGORY: dict[tuple[str, str], str] = {
    (SNOMED, "399534004"): "clinical",
    (SNOMED, "277206009"): "clinical",
    (LOINC, "21906-3"): "clinical",
    (LOINC, "21912-1"): "clinical",
    (SNOMED, "371494008"): "pathologic",
    (LOINC, "21900-6"): "pathologic",
}
NOT_INPUTS: dict[tuple[str, str], str] = {
    (SNOMED, "399390009"): "the TNM stage group",
    (SNOMED, "399537006"): "the TNM stage group",
    (SNOMED, "399588009"): "the TNM stage group",
    (LOINC, "21908-9"): "the TNM stage group",
    (LOINC, "21902-2"): "the TNM stage group",
    (LOINC, "21914-7"): "the TNM stage group",
    (SNOMED, "277208005"): "the M category",
    (SNOMED, "399387003"): "the M category",
    (SNOMED, "371497001"): "the M category",
    (LOINC, "21907-1"): "the M category",
    (LOINC, "21901-4"): "the M category",
    (LOINC, "21913-9"): "the M category",
}
#: Breast AJCC clinical T and N values as SNOMED codes -> the form's stage number.
T_VALUES: dict[str, int] = {
    "1228889001": 1,  # cT1
    "1228891009": 1,  # cT1mi
    "1228892002": 1,  # cT1a
    "1228895000": 1,  # cT1b
    "1228899006": 1,  # cT1c
    "1228929004": 2,
    "1228938002": 3,
    "1228944003": 4,
    "1228945002": 4,  # cT4a
    "1228946001": 4,
    "1228947005": 4,
    "1228948000": 4,  # cT4d
}
N_VALUES: dict[str, int] = {
    "1229967007": 0,  # cN0
    "1229973008": 1,  # cN1
    "1229974002": 1,  # cN1mi
    "1229978004": 2,
    "1229981009": 2,  # cN2a
    "1229982002": 2,
    "1229984001": 3,
    "1229985000": 3,  # cN3a
    "1229986004": 3,
    "1229987008": 3,
}
#: The primary breast cancer's Condition.code (SNOMED; ICD-10 C50.* is matched by prefix).
BREAST_CANCER = {
    (SNOMED, "254837009"),  # Malignant neoplasm of breast
    (SNOMED, "372064008"),  # Malignant neoplasm of female breast
    (SNOMED, "353431000119107"),  # Primary malignant neoplasm of female left breast
    (SNOMED, "353441000119104"),  # Primary malignant neoplasm of female right breast
}
HISTOLOGY_VALUES: dict[tuple[str, str], str] = {
    (SNOMED, "82711006"): "ductal",  # Infiltrating duct carcinoma
    (SNOMED, "89740008"): "lobular",  # Lobular carcinoma
    (ICD_O_3, "8500/3"): "ductal",
    (ICD_O_3, "8520/3"): "lobular",
}
GENOMIC_VARIANT = "69548-6"
GENE_STUDIED = "48018-6"
SOURCE_CLASS = "48002-0"
GERMLINE, SOMATIC = "LA6683-2", "LA6684-0"
PRESENT, ABSENT = "LA9633-4", "LA9634-2"
#: HGNC id -> (gene, feature, the source class the feature means).
SIGNIFICANCE = "53037-8"  # Genetic variation clinical significance [Imp]
PATHOGENIC = ("LA6668-3", "LA26332-9")  # Pathogenic, Likely pathogenic
GENE_SYMBOLS = {"BRCA1": "1100", "BRCA2": "1101", "TP53": "11998", "PIK3CA": "8975"}
GENES: dict[str, tuple[str, str, str]] = {
    "1100": ("BRCA1", "brca_germline", GERMLINE),
    "1101": ("BRCA2", "brca_germline", GERMLINE),
    "11998": ("TP53", "tp53_mutation", SOMATIC),
    "8975": ("PIK3CA", "pik3ca_mutation", SOMATIC),
}


def _coding(system: str, code: str, display: str) -> dict[str, object]:
    return {"coding": [{"system": system, "code": code, "display": display}]}


def _observation(
    key: str, profile: str, code: dict[str, object], effective: str, **value: object
) -> dict[str, object]:
    return {
        "fullUrl": f"urn:uuid:{key}",
        "resource": {
            "resourceType": "Observation",
            "id": key,
            "meta": {"profile": [PROFILE + profile]},
            "status": "final",
            "code": code,
            "subject": {"reference": "urn:uuid:patient"},
            "effectiveDateTime": effective,
            **value,
        },
    }


def _percent(value: float) -> dict[str, object]:
    return {"valueQuantity": {"value": value, "unit": "%", "system": UCUM, "code": "%"}}


def example_bundle(
    static: Mapping[str, object],
    diameter_cm: float | None,
    diagnosed: dt.date,
    patient_id: str | None = None,
) -> dict[str, object]:
    """An mCODE Bundle carrying what mCODE can say of a case's values (age through a birth date
    before ``diagnosed``; ER, PR, Ki-67, HER2, BMI, T and N, menopausal status, histology, the
    BRCA1, TP53 and PIK3CA variants, the baseline tumour size), for the bundled example; the
    patient identified by ``patient_id`` (the images' Patient ID) when given."""
    day = diagnosed.isoformat()
    age = float(str(static["age"]))
    born = diagnosed - dt.timedelta(days=round(age * 365.25))
    entries: list[dict[str, object]] = [
        {
            "fullUrl": "urn:uuid:patient",
            "resource": {
                "resourceType": "Patient",
                "id": "patient",
                "meta": {"profile": [PROFILE + "mcode-cancer-patient"]},
                **(
                    {"identifier": [{"system": "urn:oncopredict:phantom", "value": patient_id}]}
                    if patient_id
                    else {}
                ),
                "gender": "female",
                "birthDate": born.isoformat(),
            },
        },
        {
            "fullUrl": "urn:uuid:condition",
            "resource": {
                "resourceType": "Condition",
                "id": "condition",
                "meta": {"profile": [PROFILE + "mcode-primary-cancer-condition"]},
                "extension": [
                    {
                        "url": HISTOLOGY_EXTENSION,
                        "valueCodeableConcept": _coding(
                            SNOMED, "82711006", "Infiltrating duct carcinoma"
                        )
                        if static["histology"] == "ductal"
                        else _coding(SNOMED, "89740008", "Lobular carcinoma"),
                    }
                ],
                "category": [
                    _coding(
                        "http://terminology.hl7.org/CodeSystem/condition-category",
                        "problem-list-item",
                        "Problem List Item",
                    )
                ],
                "code": _coding(SNOMED, "254837009", "Malignant neoplasm of breast"),
                "subject": {"reference": "urn:uuid:patient"},
                "onsetDateTime": day,
            },
        },
    ]
    for code, name in (
        ("85329-1", "er_percent"),
        ("85325-9", "pr_percent"),
        ("85330-9", "ki67_percent"),
    ):
        entries.append(
            _observation(
                name.replace("_", "-"),
                "mcode-tumor-marker-test",
                _coding(LOINC, code, FEATURES_BY_NAME[name].label),
                day,
                **_percent(float(str(static[name]))),
            )
        )
    her2 = (
        ("LA6576-8", "Positive")
        if static["her2_status"] == "positive"
        else ("LA6577-6", "Negative")
    )
    entries.append(
        _observation(
            "her2",
            "mcode-tumor-marker-test",
            _coding(LOINC, "48676-1", "HER2 [Interpretation] in Tissue"),
            day,
            valueCodeableConcept=_coding(LOINC, *her2),
        )
    )
    entries.append(
        _observation(
            "bmi",
            "",
            _coding(LOINC, BMI_CODE, "Body mass index"),
            day,
            valueQuantity={
                "value": float(str(static["bmi"])),
                "unit": "kg/m2",
                "system": UCUM,
                "code": "kg/m2",
            },
        )
    )
    menopause = (
        ("309606002", "Before menopause")
        if static["menopausal_status"] == "pre"
        else ("307429007", "After menopause")
    )
    entries.append(
        _observation(
            "menopause",
            "",
            _coding(SNOMED, "161712005", "Menopause, function"),
            day,
            valueCodeableConcept=_coding(SNOMED, *menopause),
        )
    )
    t_code = {v: k for k, v in reversed(T_VALUES.items())}[int(str(static["t_stage"]))]
    n_code = {v: k for k, v in reversed(N_VALUES.items())}[int(str(static["n_stage"]))]
    entries.append(
        _observation(
            "t",
            "mcode-tnm-primary-tumor-category",
            _coding(SNOMED, "399504009", "cT category"),
            day,
            valueCodeableConcept=_coding(SNOMED, t_code, f"cT{static['t_stage']}"),
        )
    )
    entries.append(
        _observation(
            "n",
            "mcode-tnm-regional-nodes-category",
            _coding(SNOMED, "399534004", "cN category"),
            day,
            valueCodeableConcept=_coding(SNOMED, n_code, f"cN{static['n_stage']}"),
        )
    )
    for hgnc, (gene, name, source) in GENES.items():
        if gene == "BRCA2":
            continue  # one BRCA gene is enough for the example
        present = str(static[name]) in ("1", "1.0", "yes", "True")
        entries.append(
            _observation(
                gene.lower(),
                "mcode-genomic-variant",
                _coding(LOINC, GENOMIC_VARIANT, "Genetic variant assessment"),
                day,
                valueCodeableConcept=_coding(
                    LOINC, *((PRESENT, "Present") if present else (ABSENT, "Absent"))
                ),
                component=[
                    {
                        "code": _coding(LOINC, GENE_STUDIED, "Gene studied [ID]"),
                        "valueCodeableConcept": _coding(HGNC_SYSTEMS[0], f"HGNC:{hgnc}", gene),
                    },
                    {
                        "code": _coding(LOINC, SOURCE_CLASS, "Genomic source class [Type]"),
                        "valueCodeableConcept": _coding(
                            LOINC, source, "Germline" if source == GERMLINE else "Somatic"
                        ),
                    },
                ],
            )
        )
    if diameter_cm is not None and math.isfinite(diameter_cm):
        entries.append(
            _observation(
                "tumor-size",
                "mcode-tumor-size",
                _coding(LOINC, TUMOR_SIZE, "Size Tumor"),
                day,
                component=[
                    {
                        "code": _coding(
                            LOINC, LONGEST_DIMENSION, "Size.maximum dimension in Tumor"
                        ),
                        "valueQuantity": {
                            "value": round(diameter_cm * 10, 1),
                            "unit": "mm",
                            "system": UCUM,
                            "code": "mm",
                        },
                    }
                ],
            )
        )
    return {"resourceType": "Bundle", "type": "collection", "entry": entries}
