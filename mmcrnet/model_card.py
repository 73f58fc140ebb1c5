"""A model folder's documents read together and written as a model card in the order of the
TRIPOD+AI statement (Collins et al., BMJ 2024): intended use, data, outcome, predictors and
their timing, missing data, sample sizes, analysis, performance, calibration, subgroups,
limitations. The Model page and reports render these items; no Streamlit here.

Sources: ``model.json`` (the card training writes), ``evaluation.json`` (``evaluate``) and
``explanations.json`` (``evaluate-explanations``); the last two may be absent, and each item says
what is missing and which command makes it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mmcrnet.checkpoint import CARD, InvalidModel, read_card
from mmcrnet.features import DYNAMIC_FEATURES, OUTCOMES, STATIC_FEATURES, TIME_POINTS, WEEKS
from mmcrnet.report import DISCLAIMER

EVALUATION, EXPLANATIONS = "evaluation.json", "explanations.json"


@dataclass(frozen=True)
class ModelDocuments:
    """What a model folder says about its model.

    Attributes:
        folder: the model folder.
        card: model.json.
        evaluation, explanations: their JSON, None when absent or unreadable.
        problems: one line per document that is present but unreadable.
    """

    folder: Path
    card: dict[str, Any]
    evaluation: dict[str, Any] | None
    explanations: dict[str, Any] | None
    problems: tuple[str, ...] = ()

    @property
    def synthetic(self) -> bool:
        return bool(self.card.get("synthetic"))


def _optional_json(path: Path, problems: list[str]) -> dict[str, Any] | None:
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        problems.append(f"{path.name} cannot be read: {exc}")
        return None
    if not isinstance(data, dict):
        problems.append(f"{path.name} is not a JSON object")
        return None
    return data


def read_documents(folder: Path | str) -> ModelDocuments:
    """The card and, where present, the evaluation and the explanation check of a model.

    Raises:
        InvalidModel: the folder has no readable model.json.
    """
    folder = Path(folder)
    if not (folder / CARD).is_file():
        raise InvalidModel(f"{folder} has no {CARD}")
    card = read_card(folder)
    problems: list[str] = []
    evaluation = _optional_json(folder / EVALUATION, problems)
    explanations = _optional_json(folder / EXPLANATIONS, problems)
    return ModelDocuments(folder, card, evaluation, explanations, tuple(problems))


@dataclass(frozen=True)
class CardItem:
    """One item of the model card: its TRIPOD+AI heading and the text (Markdown)."""

    title: str
    text: str


def _pct(value: object) -> str:
    if not isinstance(value, int | float):
        return "n/a"
    return f"{float(value):.0%}" if value else "never"


def _num(value: object, digits: int = 3) -> str:
    return f"{float(value):.{digits}f}" if isinstance(value, int | float) else "n/a"


def _main_row(evaluation: dict[str, Any]) -> dict[str, Any] | None:
    for row in evaluation.get("table2", []):
        if row.get("name") == "mmcrnet" and row.get("metrics"):
            return dict(row["metrics"])
    return None


def card_items(docs: ModelDocuments) -> list[CardItem]:
    """The model card in TRIPOD+AI order."""
    card, evaluation = docs.card, docs.evaluation
    split = card.get("split", {})
    train_config = card.get("train_config", {})
    config = card.get("config", {})
    validation = card.get("validation", {})
    items = [
        CardItem(
            "Intended use and users",
            f"{DISCLAIMER} Predicts the response of a breast cancer to neoadjuvant "
            "chemotherapy (pCR / partial / none) for **researchers** studying multimodal "
            "response prediction and **educators** teaching with phantom cases whose truth is "
            "known. It is not a medical device and has not been validated on patients.",
        ),
        CardItem(
            "Training data and its origin",
            f"{card.get('training_data', 'not recorded')}. "
            + (
                "A synthetic phantom cohort generated from `cohort-spec` "
                f"({card.get('cohort_spec_version') or 'version not recorded'}): simulated "
                "patients, images rendered from known tumour properties, outcomes drawn from a "
                "known model. No patient data."
                if docs.synthetic
                else "A researcher's cohort folder: its origin is what that cohort's "
                "description says."
            ),
        ),
        CardItem(
            "Outcome",
            "Pathological response at surgery after neoadjuvant chemotherapy, three classes: "
            "**pCR** (ypT0/is ypN0, RCB-0), **partial** (RCB-I/II), **none** (RCB-III, or "
            "stable/progressive disease by RECIST 1.1). Predicted as calibrated probabilities.",
        ),
        CardItem(
            "Predictors and their timing",
            f"Images: a DCE-MRI (pre-contrast, early and late phases as three channels) or a "
            f"mammogram, resized to {config.get('image_size', '?')} px. Clinical and genomic "
            f"data: {len(STATIC_FEATURES)} baseline features carried forward and "
            f"{len(DYNAMIC_FEATURES)} measured at each time point "
            f"({', '.join(f'{t} week {w:g}' for t, w in zip(TIME_POINTS, WEEKS))}); a "
            "prediction uses the time points observed so far (1 to 4).",
        ),
        CardItem(
            "Missing data",
            "Every feature has a present flag; a missing value is 0 with its flag off, never "
            "imputed. Training withholds at random, per case and step: the image "
            f"(none / MRI / mammogram drawn with {train_config.get('image_kind_p', 'n/a')}), "
            f"the later time points (lengths 1-4 with {train_config.get('length_p', 'n/a')}), "
            f"all genomic data ({_pct(train_config.get('genomic_drop_p'))}), all clinical data "
            f"({_pct(train_config.get('clinical_drop_p', 0.0))}) and the tumour diameters "
            f"({_pct(train_config.get('diameter_drop_p', 0.0))}). The out-of-distribution "
            "guard flags heavy missingness on the Predict page.",
        ),
        CardItem(
            "Sample sizes",
            f"Training {split.get('train', '?')}, validation {split.get('validation', '?')}, "
            f"held out {split.get('test', '?')} (split seed {split.get('seed', '?')}); "
            + (
                f"evaluated on {evaluation['test']['description']} (n={evaluation['test']['n']})."
                if evaluation and "test" in evaluation
                else "no evaluation yet: `python -m mmcrnet evaluate --phantom-test 2000`."
            ),
        ),
        CardItem(
            "Model and analysis",
            f"MM-CRNet ({config.get('variant', '?')}): CNN image encoders "
            f"({'-'.join(str(c) for c in config.get('cnn_channels', []))} channels, "
            f"{config.get('image_pooling', 'avg')} pooling), an LSTM of "
            f"{config.get('lstm_hidden', '?')} units over the sequence, concatenation fusion, "
            f"FC {config.get('fusion_hidden', '?')}, softmax over {', '.join(OUTCOMES)}. Adam "
            f"{train_config.get('learning_rate', '?')}, batch {train_config.get('batch_size', '?')}"
            f", early stopping on the validation loss (best epoch {card.get('best_epoch', '?')} "
            f"of {card.get('epochs_run', '?')}), seed {train_config.get('seed', '?')}.",
        ),
    ]
    main = _main_row(evaluation) if evaluation else None
    items.append(
        CardItem(
            "Performance",
            (
                f"On the held-out test set: accuracy {_num(main.get('accuracy'))}, macro AUC "
                f"{_num(main.get('auc'))}, macro F1 {_num(main.get('f1'))} (full sequences, "
                "MRI). Tables 2 and 4 below compare it with the baselines, the ablations, the "
                "oracle and the latent reference."
                if main
                else "Not evaluated yet: `python -m mmcrnet evaluate --phantom-test 2000`."
            ),
        )
    )
    calibration = (evaluation or {}).get("calibration")
    after = validation.get("calibrated", {})
    items.append(
        CardItem(
            "Calibration",
            f"Temperature scaling on the validation split (T = {_num(card.get('temperature'))}"
            + ("" if card.get("calibrated", True) else "; not calibrated: split too small")
            + f"): validation ECE {_num(after.get('ece'))}. "
            + (
                f"Test ECE {_num(calibration['before'].get('ece'))} before and "
                f"{_num(calibration['after'].get('ece'))} after scaling, calibration slope "
                f"{_num(calibration['after'].get('calibration_slope'), 2)}; the reliability "
                "diagram is below."
                if calibration
                else ""
            ),
        )
    )
    items.append(CardItem("Subgroup performance", _subgroup_text(evaluation)))
    items.append(
        CardItem(
            "Limitations",
            "Trained and tested on synthetic phantoms only: performance on patients is "
            "unknown and may be far lower; the phantom's images are 2-D renderings, not "
            "scanner data from any vendor or protocol; the outcome model is the phantom's, "
            "not biology's. Predictions on inputs unlike the training data are flagged by the "
            "guard, not made reliable by it."
            + (
                f" Training warnings: {'; '.join(card['warnings'])}."
                if card.get("warnings")
                else ""
            ),
        )
    )
    return items


def _subgroup_text(evaluation: dict[str, Any] | None) -> str:
    if not evaluation:
        return "Not evaluated yet."
    parts = []
    for title, key in (
        ("subtype", "by_subtype"),
        ("image input", "by_image"),
        ("time points", "by_time_points"),
    ):
        groups = evaluation.get(key, {})
        if groups:
            parts.append(
                f"by {title}: "
                + "; ".join(f"{name} AUC {_num(m.get('auc'))}" for name, m in groups.items())
            )
    return ". ".join(parts) + "." if parts else "No subgroup figures in the evaluation."


def table_rows(evaluation: dict[str, Any], table: str) -> list[dict[str, Any]]:
    """Rows of ``table2``, ``table4`` or ``references`` for display: model, accuracy, AUC,
    F1, ECE, the paper's figures, the note."""
    rows = []
    for row in evaluation.get(table, []):
        metrics = row.get("metrics") or {}
        paper = row.get("paper") or {}
        rows.append(
            {
                "model": row.get("name"),
                "accuracy": metrics.get("accuracy"),
                "macro AUC": metrics.get("auc"),
                "macro F1": metrics.get("f1"),
                "ECE": metrics.get("ece"),
                "paper accuracy %": paper.get("accuracy"),
                "paper AUC %": paper.get("auc"),
                "note": row.get("note", ""),
            }
        )
    return rows


def breakdown_rows(evaluation: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per subgroup: by time points, subtype and image input."""
    rows = []
    for title, key in (
        ("time points", "by_time_points"),
        ("subtype", "by_subtype"),
        ("image input", "by_image"),
    ):
        for name, metrics in evaluation.get(key, {}).items():
            rows.append(
                {
                    "by": title,
                    "group": name,
                    "n": metrics.get("n"),
                    "accuracy": metrics.get("accuracy"),
                    "macro AUC": metrics.get("auc"),
                    "ECE": metrics.get("ece"),
                    "note": metrics.get("note", ""),
                }
            )
    return rows


def importance_rows(explanations: dict[str, Any]) -> list[dict[str, Any]]:
    """Global importance of every attributed baseline feature (mean |IG| on the response
    axis) next to the truth's, with both ranks; largest model importance first. Empty when
    the explanation check predates the figures."""
    agreement = explanations.get("truth_agreement", {}).get("baseline=reference", {})
    table = agreement.get("global_importance") or {}
    by_model = sorted(table, key=lambda f: -table[f]["model"])
    by_truth = sorted(table, key=lambda f: -table[f]["truth"])
    return [
        {
            "feature": name,
            "model": table[name]["model"],
            "truth": table[name]["truth"],
            "model rank": by_model.index(name) + 1,
            "truth rank": by_truth.index(name) + 1,
        }
        for name in by_model
    ]


def check_rows(explanations: dict[str, Any]) -> list[dict[str, Any]]:
    """The explanation check's targets and whether each is met."""
    return [
        {"check": name, "met": bool(met)} for name, met in explanations.get("targets", {}).items()
    ]
