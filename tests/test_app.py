"""AppTest tests of the router and the pages: the clinician's path through Predict, bad input
kept to one line, values that survive a page switch, the About page."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from mmcrnet import DISCLAIMER

APP = str(Path(__file__).resolve().parent.parent / "app.py")


@pytest.fixture()
def app() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=180).run()
    assert not at.exception
    return at


def _sidebar_text(at: AppTest) -> str:
    return " ".join(str(getattr(e, "value", "")) for e in at.sidebar)


def _captions(at: AppTest) -> list[str]:
    return [c.caption for image in at.get("image") for c in image.proto.imgs]


def test_sidebar_names_the_model_and_its_training_data(app: AppTest) -> None:
    text = _sidebar_text(app)
    assert "MM-CRNet" in text and "synthetic phantom cohort" in text and DISCLAIMER in text


def _predict(at: AppTest) -> None:
    next(b for b in at.button if b.label == "Predict").click().run()
    assert not at.exception


def _metrics(at: AppTest) -> dict[str, float]:
    return {
        m.label: 0.5
        if m.value == "< 1 %"
        else 99.5
        if m.value == "> 99 %"
        else float(m.value.rstrip(" %"))
        for m in at.metric
    }


def test_example_case_predicts_with_its_reasons(app: AppTest) -> None:
    app.selectbox(key="predict.example").set_value("PH00019").run()  # choosing is loading
    assert app.number_input(key="predict.field.age").value is not None
    _predict(app)
    metrics = _metrics(app)
    assert set(metrics) == {"P(pCR)", "P(partial)", "P(none)"}
    assert sum(metrics.values()) == pytest.approx(100, abs=2)
    errors = [e.value for e in app.error]
    assert any(DISCLAIMER in e and "trained on synthetic phantom cohort" in e for e in errors)
    text = " ".join(m.value for m in app.markdown)
    assert ("Predicted response: **" in text or "Uncertain: **" in text) and (
        "Where the image pushes towards pCR (red)" in text
    )
    assert "baseline values and" in text  # how much of the form the model had
    assert app.get("plotly_chart"), "no charts were drawn"
    download = app.get("download_button")
    assert download, "no download button"

    # Another outcome on request: everything below is re-explained for it.
    predicted = max(metrics, key=metrics.get)[2:-1]
    other = next(o for o in ("pCR", "partial", "none") if o != predicted)
    assert app.selectbox(key="predict.target").value == predicted
    app.selectbox(key="predict.target").set_value(other).run()
    assert not app.exception
    text = " ".join(m.value for m in app.markdown)
    assert f"towards or away from {other}" in text
    assert _metrics(app) == metrics  # same prediction
    # The response-axis map first; the outcome's own map one choice away.
    assert "strongest towards no response (left) to strongest towards pCR (right)" in (
        _captions(app)
    )
    app.radio(key="predict.map_axis").set_value("target").run()
    assert not app.exception
    assert f"strongest evidence away from {other} (left) to strongest towards it (right)" in (
        _captions(app)
    )
    # The classic (positive-part) map on request, with its own colour strip.
    app.checkbox(key="predict.against").uncheck().run()
    assert not app.exception
    assert f"evidence towards {other}: none (left) to strongest (right)" in _captions(app)


def test_corrupt_upload_is_one_line_and_keeps_the_form(app: AppTest) -> None:
    app.selectbox(key="predict.example").set_value("PH00019").run()
    age = app.number_input(key="predict.field.age").value
    app.radio(key="predict.source").set_value("Upload").run()
    app.file_uploader(key="predict.upload").set_value(
        ("broken.dcm", b"DICM" * 10 + b"\x00" * 50, "application/dicom")
    ).run()
    assert not app.exception
    messages = [e.value for e in app.error if "broken.dcm" in e.value]
    assert len(messages) == 1 and "\n" not in messages[0]
    assert app.number_input(key="predict.field.age").value == age


def test_form_loads_from_a_file_and_names_a_bad_one(app: AppTest) -> None:
    case = {
        "static": {"age": 47, "regimen": "TCHP", "tp53_mutation": 1},
        "timepoints": [{"time_point": "T0", "tumor_diameter_cm": 2.8}],
    }
    uploader = app.file_uploader(key="predict.case_file")
    uploader.set_value(("case.json", json.dumps(case).encode(), "application/json")).run()
    assert not app.exception
    assert app.number_input(key="predict.field.age").value == 47
    assert app.selectbox(key="predict.field.regimen").value == "TCHP"
    assert app.selectbox(key="predict.field.tp53_mutation").value == "yes"
    app.file_uploader(key="predict.case_file").set_value(
        ("bad.csv", b"age,grade\n50,7\n", "text/csv")
    ).run()
    assert not app.exception
    assert any("bad.csv: Histological grade: 7 is outside" in e.value for e in app.error)
    assert app.number_input(key="predict.field.age").value == 47  # nothing entered is lost


def test_the_case_survives_a_page_switch(app: AppTest) -> None:
    app.selectbox(key="predict.example").set_value("PH00004").run()
    age = app.number_input(key="predict.field.age").value
    app.switch_page("pages/about.py").run()
    assert not app.exception
    app.switch_page("pages/predict.py").run()
    assert app.number_input(key="predict.field.age").value == age
    assert app.selectbox(key="predict.example").value == "PH00004"  # the box names that case


def test_about_page_lists_the_examples(app: AppTest) -> None:
    app.switch_page("pages/about.py").run()
    assert not app.exception
    assert DISCLAIMER in [e.value for e in app.error]
    table = app.dataframe[0].value
    assert len(table) == 12
    assert set(table["outcome (truth)"]) == {"pCR", "partial", "none"}


def test_out_of_range_values_refuse_predict_and_stay(app: AppTest) -> None:
    app.number_input(key="predict.field.age").set_value(250.0)  # form values go with Predict
    app.number_input(key="predict.field.T1.tumor_diameter_cm").set_value(2.0)
    app.number_input(key="predict.field.T1.week").set_value(200.0)
    _predict(app)
    errors = [e.value for e in app.error if e.value.startswith("Cannot predict")]
    assert len(errors) == 1 and "2 values are not valid" in errors[0]
    marked = " ".join(m.value for m in app.markdown)
    assert "Age: 250 years is outside the accepted range 18 to 100 years" in marked
    assert "Week 200 at T1 is outside the accepted range 0 to 52 weeks" in marked
    assert not app.metric  # no result
    assert app.number_input(key="predict.field.age").value == 250.0  # nothing typed is lost


def test_an_empty_page_predicts_nothing(app: AppTest) -> None:
    assert app.selectbox(key="predict.example").value is None  # no case shown, none held
    _predict(app)
    assert any("nothing to predict from" in e.value for e in app.error)
    assert not app.metric


def test_a_rejected_upload_stops_predict_until_the_user_goes_on_without_it(app: AppTest) -> None:
    app.radio(key="predict.source").set_value("Upload").run()
    app.file_uploader(key="predict.upload").set_value(
        ("broken.dcm", b"DICM" * 10 + b"\x00" * 50, "application/dicom")
    ).run()
    _predict(app)
    assert any("Cannot predict: the image cannot be used" in e.value for e in app.error)
    assert not app.metric
    app.checkbox(key="predict.without_image").check().run()
    app.number_input(key="predict.field.age").set_value(55.0)
    _predict(app)
    assert app.metric or any("withheld" in e.value for e in app.error)
    assert any("Not read by the model: the image" in w.value for w in app.warning)


def test_an_image_with_an_empty_form_says_there_are_no_reasons_in_it(app: AppTest) -> None:
    series = sorted(
        (Path(APP).parent / "assets" / "examples" / "images" / "PH00019" / "mri").glob("*.dcm")
    )
    app.radio(key="predict.source").set_value("Upload").run()
    app.file_uploader(key="predict.upload").set_value(
        [(p.name, p.read_bytes(), "application/dicom") for p in series]
    ).run()
    _predict(app)
    assert any("No reasons in the form" in i.value for i in app.info)  # not blank axes
    assert any(
        "baseline values are given; every training case had at least half" in w.value
        for w in app.warning
    )
    text = " ".join(m.value for m in app.markdown)
    assert "not calibrated for a case like this one" in text


def test_a_bug_of_ours_shows_an_error_id_and_logs_the_traceback(
    app: AppTest, monkeypatch: pytest.MonkeyPatch
) -> None:
    import logging

    from mmcrnet.explain import Explainer
    from ui.errors import LOG

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("a bug in the explainer")

    records: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = records.append  # type: ignore[method-assign]
    LOG.addHandler(handler)
    monkeypatch.setattr(Explainer, "explain", broken)
    try:
        app.selectbox(key="predict.example").set_value("PH00019").run()
        age = app.number_input(key="predict.field.age").value
        _predict(app)
    finally:
        LOG.removeHandler(handler)
    shown = [e.value for e in app.error if "error id" in e.value]
    assert len(shown) == 1 and "not in your input" in shown[0]
    assert not any("bad input" in e.value.lower() for e in app.error)
    error_id = shown[0].split("error id **")[1].split("**")[0]
    assert any(
        error_id in r.getMessage() and r.exc_info and "a bug in the explainer" in str(r.exc_info[1])
        for r in records
    )
    assert app.number_input(key="predict.field.age").value == age  # the form is kept


def test_the_page_names_files_without_their_folders(app: AppTest) -> None:
    app.selectbox(key="predict.example").set_value("PH00019").run()
    captions = _captions(app)
    assert any("phase1.dcm" in c for c in captions)
    assert not any("/" in c for c in captions), captions  # no server path, no folder names
