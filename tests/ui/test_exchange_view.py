"""The Predict page and the hospital's systems (AppTest): the form imported from an mCODE
Bundle changes only what the bundle says; the result made into DICOM objects and sent to a real
Orthanc; a PACS that is not there is one line."""

from __future__ import annotations

import json
from pathlib import Path

from streamlit.testing.v1 import AppTest

from tests.interop.conftest import orthanc_url  # noqa: F401  (the server fixture)

ROOT = Path(__file__).resolve().parent.parent.parent
APP = str(ROOT / "app.py")
BUNDLE = ROOT / "assets" / "fhir" / "PH00001-mcode.json"


def test_a_fhir_bundle_fills_only_what_it_maps() -> None:
    at = AppTest.from_file(APP, default_timeout=240).run()
    at.selectbox(key="predict.example").set_value("PH00019").run()
    regimen = at.selectbox(key="predict.field.regimen").value
    esr1 = at.number_input(key="predict.field.esr1_expr").value
    at.file_uploader(key="predict.fhir_file").set_value(
        (BUNDLE.name, BUNDLE.read_bytes(), "application/json")
    ).run()
    assert not at.exception
    assert at.number_input(key="predict.field.age").value == 50.8
    assert at.selectbox(key="predict.field.her2_status").value == "positive"
    assert at.selectbox(key="predict.field.brca_germline").value == "no"
    assert at.number_input(key="predict.field.t_stage").value == 2
    assert at.selectbox(key="predict.field.regimen").value == regimen  # not in the bundle
    assert at.number_input(key="predict.field.esr1_expr").value == esr1
    assert any("Imported 14 values" in s.value for s in at.success)
    assert any("only the birth date is read" in m.value for m in at.markdown)
    assert any("not the images' patient" in w.value for w in at.warning)  # PH00019's images

    bad = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [{"resource": {"resourceType": "Observation", "status": "final", "bogus": 1}}],
    }
    at.file_uploader(key="predict.fhir_file").set_value(
        ("bad.json", json.dumps(bad).encode(), "application/json")
    ).run()
    assert not at.exception
    errors = [e.value for e in at.error if "bad.json" in e.value]
    assert len(errors) == 1 and "not a valid FHIR R4 Bundle" in errors[0]
    assert at.number_input(key="predict.field.age").value == 50.8  # nothing entered is lost


def test_the_result_goes_to_the_pacs_as_dicom(orthanc_url: str) -> None:  # noqa: F811
    at = AppTest.from_file(APP, default_timeout=240).run()
    at.selectbox(key="predict.example").set_value("PH00001").run()
    next(b for b in at.button if b.label == "Predict").click().run()
    assert not at.exception
    assert any(h.value.startswith("5. Send to the hospital") for h in at.subheader)
    assert not any("**Parametric Map**" in m.value for m in at.markdown)  # not made unasked
    at.button(key="predict.dicom_make").click().run()
    listed = " ".join(m.value for m in at.markdown)
    for kind in ("Parametric Map", "Segmentation", "Structured Report"):
        assert f"**{kind}**" in listed
    at.text_input(key="predict.pacs_url").input("http://127.0.0.1:1/dicom-web").run()
    at.button(key="predict.send").click().run()
    assert not at.exception
    assert any(
        e.value.startswith("Not sent: http") and "could not reach the PACS" in e.value
        for e in at.error
    )
    at.text_input(key="predict.pacs_url").input(f"{orthanc_url}/dicom-web").run()
    at.button(key="predict.send").click().run()
    assert not at.exception
    assert any("stored 3 objects" in s.value for s in at.success)
