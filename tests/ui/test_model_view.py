"""The Model page: the card in TRIPOD+AI order, the tables, the plots with their text, and a
folder whose evaluation is missing or damaged still described, with what to run."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from mmcrnet import DISCLAIMER
from mmcrnet.model_card import card_items, importance_rows, read_documents, table_rows
from ui import evaluation_figures as figures

ROOT = Path(__file__).resolve().parent.parent.parent
APP = str(ROOT / "app.py")
MODELS = ROOT / "models"


def test_the_card_follows_tripod_ai_and_names_the_training_data() -> None:
    docs = read_documents(MODELS)
    titles = [item.title for item in card_items(docs)]
    assert titles == [
        "Intended use and users",
        "Training data and its origin",
        "Outcome",
        "Predictors and their timing",
        "Missing data",
        "Sample sizes",
        "Model and analysis",
        "Performance",
        "Calibration",
        "Subgroup performance",
        "Limitations",
    ]
    text = " ".join(item.text for item in card_items(docs))
    assert DISCLAIMER in text and "synthetic phantom cohort" in text and "n/a" not in text
    names = [row["model"] for row in table_rows(docs.evaluation or {}, "table2")]
    assert names == ["mmcrnet", "cnn-only", "lstm-only", "random-forest"]


def test_a_model_without_evaluations_is_described_and_says_what_to_run(tmp_path: Path) -> None:
    folder = tmp_path / "bare"
    folder.mkdir()
    for name in ("model.json", "model.safetensors"):
        shutil.copy(MODELS / name, folder / name)
    (folder / "explanations.json").write_text("{not json")
    docs = read_documents(folder)
    assert docs.evaluation is None and docs.explanations is None
    assert docs.problems and "explanations.json cannot be read" in docs.problems[0]
    performance = next(i for i in card_items(docs) if i.title == "Performance")
    assert "python -m mmcrnet evaluate" in performance.text


def test_figures_draw_the_data_they_are_given() -> None:
    curves = {
        "n": 4,
        "outcomes": ["pCR", "partial", "none"],
        "roc": [
            {"outcome": "pCR", "fpr": [0, 0, 1], "tpr": [0, 1, 1], "auc": 1.0},
            {"outcome": "partial", "fpr": [], "tpr": [], "auc": None},
            {"outcome": "none", "fpr": [0, 1], "tpr": [0, 1], "auc": 0.5},
        ],
        "confusion": [[2, 0, 0], [1, 0, 0], [0, 0, 1]],
        "reliability": [
            {"low": 0.6, "high": 0.7, "count": 3, "confidence": 0.65, "accuracy": 0.67},
            {"low": 0.7, "high": 0.8, "count": 0, "confidence": None, "accuracy": None},
        ],
    }
    roc = figures.roc_figure(curves)
    assert [t.name for t in roc.data] == ["chance", "pCR (AUC 1.000)", "none (AUC 0.500)"]
    confusion = figures.confusion_figure(curves)
    assert confusion.data[0].text[1][0] == "1<br>100%"
    reliability = figures.reliability_figure(curves)
    assert list(reliability.data[1].x) == [0.65]
    rows = [
        {"feature": "er_percent", "model": 0.3, "truth": 0.2},
        {"feature": "bmi", "model": 0.01, "truth": 0.0},
    ]
    bars = figures.importance_figure(rows)
    from mmcrnet.explain import feature_label

    # largest model importance at the top: plotly draws the last category topmost
    assert list(bars.data[0].y) == [feature_label("bmi"), feature_label("er_percent")]
    assert list(bars.data[0].x) == [0.01, 0.3] and list(bars.data[1].x) == [0.0, 0.2]


def test_importance_rows_rank_model_and_truth() -> None:
    explanations = {
        "truth_agreement": {
            "baseline=reference": {
                "global_importance": {
                    "a": {"model": 0.1, "truth": 0.3},
                    "b": {"model": 0.2, "truth": 0.1},
                }
            }
        }
    }
    rows = importance_rows(explanations)
    assert [(r["feature"], r["model rank"], r["truth rank"]) for r in rows] == [
        ("b", 1, 2),
        ("a", 2, 1),
    ]
    assert importance_rows({}) == []


@pytest.fixture()
def model_page() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=180).run()
    at.switch_page("pages/model.py").run()
    assert not at.exception
    return at


def test_model_page_shows_card_tables_and_checks(model_page: AppTest) -> None:
    assert any(DISCLAIMER in e.value for e in model_page.error)
    titles = [e.label for e in model_page.expander]
    assert titles[0] == "Intended use and users" and "Limitations" in titles
    subheaders = [s.value for s in model_page.subheader]
    assert "Tables 2 and 4" in subheaders
    assert "Explanations checked against the truth" in subheaders
    tables = model_page.dataframe
    assert len(tables) >= 4  # Table 2, Table 4, references, subgroups, ...
    assert list(tables[0].value["model"]) == ["mmcrnet", "cnn-only", "lstm-only", "random-forest"]
    json.dumps([t.value.to_dict() for t in tables[:3]], default=str)
