"""The case store, each test on SQLite and on PostgreSQL: cases by pseudonymous label, visits
with the image kept as pixels only, the append-only prediction record, the trajectory."""

from __future__ import annotations

import numpy as np
import pytest
import sqlalchemy as sa

from mmcrnet import load_cohort, read_paths
from mmcrnet.case import ClinicalCase
from mmcrnet.errors import InvalidArgument
from mmcrnet.store.store import CaseNotFound, inputs_hash, label_warnings
from tests.conftest import EXAMPLES


@pytest.fixture(scope="module")
def example():
    cohort = load_cohort(EXAMPLES)
    clinical = ClinicalCase.from_tables(cohort.cases, cohort.timepoints, "PH00001")
    study = read_paths(cohort.image_paths("PH00001", "mri"), isolate=False)
    return clinical, study


def _result(p_pcr: float) -> dict:
    probabilities = {"pCR": p_pcr, "partial": 1 - p_pcr, "none": 0.0}
    label = "pCR" if p_pcr >= 0.5 else "partial"
    return {"explanation": {"prediction": {"probabilities": probabilities, "label": label}}}


def test_a_case_is_followed_across_visits(store, example) -> None:
    clinical, study = example
    store.create_case("breast-017")
    first = store.add_visit("breast-017", clinical.static, clinical.timepoints[:1], study)
    store.record_prediction(first.id, _result(0.3), "MM-CRNet", "app 0.1.0", "a" * 64)
    second = store.add_visit("breast-017", clinical.static, clinical.timepoints[:2], None)
    store.record_prediction(second.id, _result(0.6), "MM-CRNet (retrained)", "app 0.1.0", "b" * 64)
    case = store.case("breast-017")
    assert [v.number for v in case.visits] == [1, 2]
    assert case.visits[1].time_points == ["T0", "T1"]
    rows = case.trajectory()
    assert [r["pCR"] for r in rows] == [0.3, 0.6]
    assert rows[0]["model"] == "MM-CRNet (aaaaaaaaaaaa)" and rows[1]["predicted"] == "pCR"
    assert [c.label for c in store.cases()] == ["breast-017"] and store.cases()[0].visits == 2


def test_the_image_is_kept_as_the_model_read_it_without_identifiers(store, example) -> None:
    clinical, study = example
    store.create_case("c1")
    visit = store.add_visit("c1", clinical.static, clinical.timepoints, study)
    back = store.visit_study(visit.id)
    assert back is not None and np.array_equal(back.image, study.image)
    assert [p.label for p in back.phases] == [p.label for p in study.phases]
    assert back.patient_id is None and back.study_uid is None and back.sources == ("stored image",)
    assert visit.image_summary is not None
    text = str(visit.image_summary)
    assert study.patient_id is None or study.patient_id not in text
    assert ".dcm" not in text


def test_the_prediction_record_is_append_only(store, example) -> None:
    clinical, _ = example
    store.create_case("c2")
    visit = store.add_visit("c2", clinical.static, clinical.timepoints, None)
    record = store.record_prediction(visit.id, _result(0.5), "MM-CRNet", "app 0.1.0", "c" * 64)
    assert (
        record.inputs_sha256 == inputs_hash(clinical.static, clinical.timepoints, None)
        or len(record.inputs_sha256) == 64
    )
    for statement in ("UPDATE predictions SET model_name = 'x'", "DELETE FROM predictions"):
        with pytest.raises(sa.exc.DBAPIError, match="append-only"):
            with store.engine.begin() as connection:
                connection.execute(sa.text(statement))
    assert store.case("c2").visits[0].latest.model_name == "MM-CRNet"


def test_labels_are_checked_and_warned_about(store) -> None:
    with pytest.raises(InvalidArgument, match="the case label is empty"):
        store.create_case("  ")
    store.create_case("c3")
    with pytest.raises(InvalidArgument, match="'c3' already exists"):
        store.create_case("c3")
    with pytest.raises(CaseNotFound, match="no case is labelled 'nobody'"):
        store.case("nobody")
    assert label_warnings("case 7") == []
    assert any("a date" in w for w in label_warnings("tumour 1970-03-02"))
    assert any("number" in w for w in label_warnings("MRN 12345678"))
    assert any("name" in w for w in label_warnings("Jane Smith"))


def test_a_visit_and_its_prediction_are_saved_together(store, example) -> None:
    clinical, study = example
    visit = store.save_visit(
        "c4",
        clinical.static,
        clinical.timepoints,
        study,
        _result(0.4),
        "m",
        "v",
        "d" * 64,
        new_case=True,
    )
    assert visit.number == 1 and visit.latest is not None and visit.latest.label == "partial"
    second = store.save_visit(
        "c4", clinical.static, clinical.timepoints, None, _result(0.7), "m", "v", "d" * 64
    )
    assert second.number == 2 and second.latest.inputs_sha256 != visit.latest.inputs_sha256
    with pytest.raises(InvalidArgument, match="'c4' already exists"):
        store.save_visit(
            "c4", clinical.static, [], None, _result(0.1), "m", "v", "d" * 64, new_case=True
        )
    with pytest.raises(CaseNotFound):
        store.save_visit("nobody", clinical.static, [], None, _result(0.1), "m", "v", "d" * 64)
    assert [v.number for v in store.case("c4").visits] == [1, 2]  # nothing half-saved
    assert store.case("c4").created.tzinfo is not None
