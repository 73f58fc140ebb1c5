"""Keeping a result (AppTest): saved under a pseudonymous label, reopened on the Cases page,
gone on with on Predict (form and stored image), and added as the next visit; the trajectory
across visits; labels that look like identifiers warned about."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from mmcrnet import load_cohort, read_paths
from mmcrnet.case import ClinicalCase
from mmcrnet.store.store import CaseStore
from tests.conftest import EXAMPLES

APP = str(Path(__file__).resolve().parent.parent.parent / "app.py")


def _label_box(at: AppTest):
    return next(t for t in at.text_input if t.label.startswith("Case label"))


def _predict(at: AppTest) -> None:
    next(b for b in at.button if b.label == "Predict").click().run()
    assert not at.exception


def test_a_result_is_saved_under_a_pseudonymous_label(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite:///{tmp_path / 'cases.sqlite'}"
    monkeypatch.setenv("ONCOPREDICT_DB", url)
    at = AppTest.from_file(APP, default_timeout=240).run()
    at.selectbox(key="predict.example").set_value("PH00001").run()
    _predict(at)
    assert at.button(key="predict.save").disabled  # no label yet
    _label_box(at).input("Jane Smith").run()
    assert any("person's name" in w.value for w in at.warning)
    _label_box(at).input("breast-017").run()
    at.button(key="predict.save").click().run()
    assert not at.exception
    case = CaseStore(url).case("breast-017")
    assert len(case.visits) == 1 and case.visits[0].time_points == ["T0", "T1", "T2", "T3"]
    assert case.visits[0].image_summary is not None
    record = case.visits[0].latest
    assert record is not None and record.model_name.startswith("MM-CRNet")
    assert record.result["case_label"] == "breast-017"
    assert any("Saved: breast-017" in s.value for s in at.success)


def test_a_saved_case_is_reopened_and_followed_to_its_next_visit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite:///{tmp_path / 'cases.sqlite'}"
    monkeypatch.setenv("ONCOPREDICT_DB", url)
    cohort = load_cohort(EXAMPLES)
    clinical = ClinicalCase.from_tables(cohort.cases, cohort.timepoints, "PH00001")
    study = read_paths(cohort.image_paths("PH00001", "mri"), isolate=False)
    store = CaseStore(url)
    store.create_case("breast-017")
    first = store.add_visit("breast-017", clinical.static, clinical.timepoints[:2], study)
    store.record_prediction(
        first.id,
        {
            "explanation": {
                "prediction": {
                    "probabilities": {"pCR": 0.3, "partial": 0.6, "none": 0.1},
                    "label": "partial",
                }
            }
        },
        "MM-CRNet (mmcrnet)",
        "served by OncoPredict 0.1.0",
        "a" * 64,
    )

    at = AppTest.from_file(APP, default_timeout=240).run()
    at.switch_page("pages/cases.py").run()
    assert at.selectbox(key="cases.case").value == "breast-017"
    at.button(key="cases.continue").click().run()
    assert not at.exception
    at.switch_page("pages/predict.py").run()  # where the app went (AppTest follows explicitly)
    assert at.radio(key="predict.source").value == "Saved visit"
    assert at.number_input(key="predict.field.T2.tumor_diameter_cm").value is None
    at.number_input(key="predict.field.T2.tumor_diameter_cm").set_value(1.1)
    at.number_input(key="predict.field.T2.ctdna_percent").set_value(0.0)
    _predict(at)  # the form's values go with its submit button
    assert _label_box(at).value == "breast-017"
    assert "next visit of breast-017" in at.button(key="predict.save").label
    at.button(key="predict.save").click().run()
    case = CaseStore(url).case("breast-017")
    assert [v.time_points for v in case.visits] == [["T0", "T1"], ["T0", "T1", "T2"]]
    assert [r["visit"] for r in case.trajectory()] == [1, 2]
    # the stored image answered the second visit: the same pixels
    assert case.visits[1].image_sha256 == case.visits[0].image_sha256

    at.switch_page("pages/cases.py").run()
    table = at.dataframe[1].value
    assert list(table["visit"]) == [1, 2] and "MM-CRNet" in table["model (weights)"].iloc[1]


def test_a_store_that_cannot_be_opened_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ONCOPREDICT_DB", "postgresql+psycopg://u:secret@127.0.0.1:1/none")
    at = AppTest.from_file(APP, default_timeout=240).run()
    at.switch_page("pages/cases.py").run()
    assert not at.exception
    errors = [e.value for e in at.error if "cannot be opened" in e.value]
    assert errors and "secret" not in errors[0] and "u:***@" in errors[0]
