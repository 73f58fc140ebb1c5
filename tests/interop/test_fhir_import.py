"""The form from an mCODE Bundle: the bundled example gives back its case's values; every
element that cannot be mapped has one line saying why, and changes nothing."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest

from mmcrnet.answer import case_inputs
from mmcrnet.errors import InvalidCase
from mmcrnet.interop import mcode
from mmcrnet.interop.fhir_import import read_fhir_bundle
from tests.conftest import EXAMPLES, ROOT

BUNDLE = ROOT / "assets" / "fhir" / "PH00001-mcode.json"


def _bundle(*resources: dict[str, Any]) -> bytes:
    return json.dumps(
        {
            "resourceType": "Bundle",
            "type": "collection",
            "entry": [{"resource": r} for r in resources],
        }
    ).encode()


def _observation(system: str, code: str, **value: Any) -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "status": "final",
        "code": {"coding": [{"system": system, "code": code}]},
        "effectiveDateTime": "2026-03-02",
        **value,
    }


def _concept(system: str, code: str, display: str = "") -> dict[str, Any]:
    return {"coding": [{"system": system, "code": code, "display": display or code}]}


def test_the_bundled_example_gives_back_its_cases_values() -> None:
    clinical, _ = case_inputs(EXAMPLES, "PH00001", "none", None)
    shipped = json.loads(BUNDLE.read_text())
    made = mcode.example_bundle(
        clinical.static,
        float(str(clinical.timepoints[0]["tumor_diameter_cm"])),
        dt.date(2026, 3, 2),
        "PH00001",
    )
    assert shipped == made  # the asset is what the code makes (no drift)
    result = read_fhir_bundle(BUNDLE.name, BUNDLE.read_bytes())
    static = clinical.static
    for name in ("er_percent", "pr_percent", "ki67_percent", "bmi", "age"):
        assert result.static[name] == pytest.approx(float(str(static[name])), abs=0.05), name
    for name in ("t_stage", "n_stage"):
        assert result.static[name] == int(str(static[name]))
    for name in ("her2_status", "menopausal_status", "histology"):
        assert result.static[name] == static[name]
    for name in ("tp53_mutation", "pik3ca_mutation", "brca_germline"):
        assert result.static[name] == ("yes" if str(static[name]) == "1" else "no")
    assert result.baseline["tumor_diameter_cm"] == pytest.approx(
        float(str(clinical.timepoints[0]["tumor_diameter_cm"])), abs=0.01
    )
    assert "regimen" not in result.static and "esr1_expr" not in result.static
    assert len(result.imported) == len(result.static) + len(result.baseline)
    assert not result.other_patient("PH00001") and result.other_patient("PH00019")
    assert not result.other_patient(None)  # images without a Patient ID: nothing to check


def test_every_element_it_cannot_map_is_one_line_and_sets_nothing() -> None:
    s, lo = mcode.SNOMED, mcode.LOINC
    data = _bundle(
        {"resourceType": "Patient", "id": "p1", "birthDate": "1970"},
        _observation(lo, "85337-4", valueCodeableConcept=_concept(lo, "LA6576-8", "Positive")),
        _observation(lo, "48676-1", valueCodeableConcept=_concept(lo, "LA11885-3", "Equivocal")),
        _observation(s, "384625004", valueCodeableConcept=_concept(s, "1229852009", "pT2")),
        _observation(s, "399390009", valueCodeableConcept=_concept(s, "1222769001", "IIB")),
        _observation(lo, "85329-1", valueQuantity={"value": 80, "code": "%"}),
        _observation(lo, "14228-1", valueQuantity={"value": 60, "code": "%"}),
        _observation(lo, "85330-9", valueQuantity={"value": 150, "code": "%"}),
        _observation(
            lo,
            "69548-6",
            valueCodeableConcept=_concept(lo, "LA9633-4"),
            component=[
                {
                    "code": _concept(lo, "48018-6"),
                    "valueCodeableConcept": _concept(mcode.HGNC_SYSTEMS[1], "HGNC:1100"),
                },
                {"code": _concept(lo, "48002-0"), "valueCodeableConcept": _concept(lo, "LA6684-0")},
            ],
        ),
        {
            "resourceType": "MedicationRequest",
            "status": "active",
            "intent": "order",
            "subject": {"reference": "Patient/p1"},
            "medicationCodeableConcept": _concept(
                "http://www.nlm.nih.gov/research/umls/rxnorm", "224905"
            ),
        },
    )
    result = read_fhir_bundle("b.json", data)
    assert result.static == {} and result.baseline == {}
    lines = "\n".join(result.not_mapped)
    for expected in (
        "birth date '1970' is not a full date",
        "ER positive/negative without a percentage",
        "HER2 'Equivocal' is neither positive nor negative",
        "a pathologic (after surgery) category",
        "the TNM stage group is not an input",
        "ER-positive cells: the bundle gives 80.0 and 60.0",
        "Ki-67 index: 150 % is outside the accepted range 0 to 100 %; not imported",
        "BRCA1 here is not germline",
        "MedicationRequest",
    ):
        assert expected in lines, expected
    assert all("\n" not in line for line in result.not_mapped)


def test_ajcc_text_codes_and_millimetres_are_read() -> None:
    lo = mcode.LOINC
    data = _bundle(
        _observation(lo, "21905-5", valueCodeableConcept=_concept(mcode.AJCC, "cT3")),
        _observation(lo, "21906-3", valueCodeableConcept=_concept(mcode.AJCC, "cN1a")),
        _observation(
            lo,
            "21889-1",
            component=[
                {"code": _concept(lo, "33728-7"), "valueQuantity": {"value": 31, "code": "mm"}}
            ],
        ),
    )
    result = read_fhir_bundle("b.json", data)
    assert result.static == {"t_stage": 3, "n_stage": 1}
    assert result.baseline == {"tumor_diameter_cm": pytest.approx(3.1)}


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"\xff\xfe", "not a FHIR JSON file"),
        (b'{"resourceType": "Patient"}', "not a FHIR Bundle (resourceType Patient)"),
        (b"[1, 2]", "not a FHIR Bundle (no resourceType)"),
        (
            _bundle({"resourceType": "Observation", "status": "final", "bogus": 1}),
            "not a valid FHIR R4 Bundle at entry.0.resource",
        ),
    ],
)
def test_a_file_that_is_not_a_bundle_is_one_line(data: bytes, message: str) -> None:
    with pytest.raises(
        InvalidCase, match="^b.json: " + message.replace("(", r"\(").replace(")", r"\)")
    ) as caught:
        read_fhir_bundle("b.json", data)
    assert "\n" not in str(caught.value)


def _variant(
    hgnc: str, present: bool, source: str, significance: str | None = None
) -> dict[str, Any]:
    lo = mcode.LOINC
    components = [
        {
            "code": _concept(lo, "48018-6"),
            "valueCodeableConcept": _concept(mcode.HGNC_SYSTEMS[0], hgnc),
        },
        {"code": _concept(lo, "48002-0"), "valueCodeableConcept": _concept(lo, source)},
    ]
    if significance:
        components.append(
            {
                "code": _concept(lo, "53037-8"),
                "valueCodeableConcept": _concept(lo, significance, "Uncertain significance"),
            }
        )
    value = _concept(lo, "LA9633-4" if present else "LA9634-2")
    return _observation(lo, "69548-6", valueCodeableConcept=value, component=components)


def test_what_a_record_says_around_the_values_is_read_too() -> None:
    lo, s = mcode.LOINC, mcode.SNOMED
    data = _bundle(
        {"resourceType": "Patient", "birthDate": "1960-01-01"},
        {
            "resourceType": "Condition",
            "subject": {"reference": "Patient/p"},
            "code": _concept(s, "38341003", "Hypertension"),
            "onsetDateTime": "1990-01-01",
        },
        {
            "resourceType": "Condition",
            "subject": {"reference": "Patient/p"},
            "code": _concept(s, "254837009"),
            "onsetDateTime": "2020-01-01",
        },
        {
            **_observation(lo, "85329-1", valueQuantity={"value": 95, "code": "%"}),
            "status": "entered-in-error",
        },
        _observation(lo, "85325-9", valueQuantity={"value": 1, "comparator": "<", "code": "%"}),
        _variant("HGNC:1100", False, "LA6683-2"),
        _variant("HGNC:1101", True, "LA6683-2"),
        _variant("TP53", True, "LA6684-0", significance="LA26333-7"),
    )
    result = read_fhir_bundle("b.json", data)
    assert result.static == {"age": 60.0, "brca_germline": "yes"}  # the cancer's onset; BRCA2
    lines = "\n".join(result.not_mapped)
    for expected in (
        "'Hypertension'): not the primary breast cancer",
        "status 'entered-in-error' is not a result",
        "'< 1' is a bound, not a value",
        "TP53 variant of significance 'Uncertain significance'",
    ):
        assert expected in lines, expected


def test_a_bundle_of_two_patients_or_unknown_types_is_refused() -> None:
    two = _bundle({"resourceType": "Patient"}, {"resourceType": "Patient"})
    with pytest.raises(InvalidCase, match="holds 2 patients"):
        read_fhir_bundle("b.json", two)
    with pytest.raises(InvalidCase, match="resource type the FHIR R4B models do not know"):
        read_fhir_bundle("b.json", _bundle({"resourceType": "FooType"}))
    many = _bundle(
        *[_observation(mcode.LOINC, "8480-6", valueQuantity={"value": 120}) for _ in range(50)]
    )
    lines = read_fhir_bundle("b.json", many).not_mapped
    assert len(lines) == 21 and lines[-1] == (
        "30 more resources that are not inputs of the model (30 Observation)"
    )
