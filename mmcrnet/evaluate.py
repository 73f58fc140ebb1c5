"""The paper's Tables 2 and 4 on one held-out test set, with the references the phantom world
allows, calibration before and after temperature scaling, and breakdowns.

    Table 2   MM-CRNet vs CNN-only, LSTM-only and a Random Forest
    Table 4   MM-CRNet retrained without imaging, without clinical, without genomic data
    reference the oracle (true eta_full) and the latent reference (logistic regression on the
              observed tabular data plus the true image latents)

Neural variants are loaded from ``MODEL_DIR/variants/<variant>/`` (trained with
``python -m mmcrnet train --variant ...``). The Random Forest and the latent reference are fitted
here, deterministically, on the training split of the main model's own training cohort.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from scipy import ndimage
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from mmcrnet.batch import main_condition_kinds, predict_logits
from mmcrnet.checkpoint import load_model, read_card
from mmcrnet.curves import curves
from mmcrnet.data import IMAGE_KINDS, MAMMOGRAM, MRI, NO_IMAGE, encode_sequences, truncate
from mmcrnet.datasets import CaseSet, split_rows, subset
from mmcrnet.features import SUBTYPES, design_matrix
from mmcrnet.metrics import scores, softmax
from mmcrnet.model import MMCRNet
from mmcrnet.phantom.cohort import IMAGE_LATENTS

#: a subgroup needs at least this many cases for its metrics to be reported
MIN_SUBGROUP = 10
TABLE2 = ("mmcrnet", "cnn-only", "lstm-only", "random-forest")
TABLE4 = ("mmcrnet", "no-imaging", "no-clinical", "no-genomic")
PAPER = {  # the paper's accuracy / AUC (%), for side-by-side reading
    "mmcrnet": (88.6, 92.7),
    "cnn-only": (81.4, 85.3),
    "lstm-only": (84.1, 89.2),
    "random-forest": (85.3, 88.5),
    "no-imaging": (84.3, 88.1),
    "no-clinical": (85.2, 88.3),
    "no-genomic": (86.4, 89.6),
}


@dataclass(frozen=True)
class Row:
    """One model's scores on the test set (or why it has none)."""

    name: str
    metrics: dict[str, float | None] | None
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "metrics": self.metrics,
            "note": self.note,
            "paper": dict(zip(("accuracy", "auc"), PAPER[self.name]))
            if self.name in PAPER
            else None,
        }


@dataclass(frozen=True)
class EvaluationReport:
    test_description: str
    n_test: int
    table2: tuple[Row, ...]
    table4: tuple[Row, ...]
    references: tuple[Row, ...]
    calibration: dict[str, Any]
    by_time_points: dict[str, Any]
    by_subtype: dict[str, Any]
    by_image: dict[str, Any]
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "test": {"description": self.test_description, "n": self.n_test},
            "table2": [r.to_dict() for r in self.table2],
            "table4": [r.to_dict() for r in self.table4],
            "references": [r.to_dict() for r in self.references],
            "calibration": self.calibration,
            "by_time_points": self.by_time_points,
            "by_subtype": self.by_subtype,
            "by_image": self.by_image,
            **self.extra,
        }


# --- image summaries for the Random Forest -------------------------------------------------


def image_summaries(mri: np.ndarray) -> np.ndarray:
    """Simple intensity and shape summaries of DCE-MRI inputs, (N, 3, S, S) -> (N, 12):
    whole-image phase means, then in the most enhancing region (early - pre above its 98th
    percentile, largest connected part): area, compactness (perimeter^2 / area), mean
    enhancement, late/early ratio, coefficient of variation, core/edge enhancement ratio."""
    out = np.zeros((mri.shape[0], 12), dtype=np.float64)
    for i, (pre, early, late) in enumerate(mri.astype(np.float64)):
        enhancement = early - pre
        region = enhancement > np.quantile(enhancement, 0.98)
        labels, count = ndimage.label(region)
        if count:
            sizes = ndimage.sum(region, labels, index=np.arange(1, count + 1))
            region = labels == (1 + int(np.argmax(sizes)))
        area = float(region.sum())
        edge = region & ~ndimage.binary_erosion(region)
        core = ndimage.binary_erosion(region, iterations=2)
        values = enhancement[region] if area else np.zeros(1)
        core_mean = enhancement[core].mean() if core.any() else values.mean()
        edge_mean = enhancement[edge].mean() if edge.any() else values.mean()
        out[i] = [
            pre.mean(),
            early.mean(),
            late.mean(),
            area,
            (edge.sum() ** 2) / max(area, 1.0),
            values.mean(),
            late[region].mean() / max(early[region].mean(), 1e-6) if area else 1.0,
            values.std() / max(abs(values.mean()), 1e-6),
            core_mean / max(edge_mean, 1e-6),
            enhancement.mean(),
            enhancement.std(),
            np.quantile(enhancement, 0.999),
        ]
    return out


def _forest_features(cases: CaseSet) -> np.ndarray:
    tabular, _ = design_matrix(cases.cases, cases.timepoints)
    return np.hstack([tabular, image_summaries(cases.images.mri.astype(np.float32))])


def random_forest(train: CaseSet, test: CaseSet, seed: int) -> np.ndarray:
    """Random Forest on all modalities (tabular + MRI summaries): test probabilities (N, 3)."""
    forest = RandomForestClassifier(
        n_estimators=500, min_samples_leaf=3, n_jobs=-1, random_state=seed
    )
    forest.fit(_forest_features(train), train.labels)
    return forest.predict_proba(_forest_features(test))


def latent_reference(train: CaseSet, test: CaseSet) -> np.ndarray:
    """Logistic regression on the observed tabular data plus the true image latents."""

    def features(cases: CaseSet) -> np.ndarray:
        tabular, _ = design_matrix(cases.cases, cases.timepoints)
        return np.hstack([tabular, cases.phantom_truth[list(IMAGE_LATENTS)].to_numpy()])

    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=3000))
    model.fit(features(train), train.labels)
    return model.predict_proba(features(test))


def oracle(test: CaseSet) -> np.ndarray:
    return test.phantom_truth[["p_pcr", "p_partial", "p_none"]].to_numpy()


# --- neural models ---------------------------------------------------------------------------


@dataclass(frozen=True)
class LoadedModel:
    model: MMCRNet
    card: dict[str, Any]

    @property
    def temperature(self) -> float:
        return float(self.card["temperature"])


def model_probabilities(
    loaded: LoadedModel,
    cases: CaseSet,
    kinds: np.ndarray | None = None,
    lengths: np.ndarray | None = None,
    calibrated: bool = True,
) -> np.ndarray:
    """Probabilities (N, 3) of a model on ``cases``: full sequences and the model's main image
    input unless ``kinds`` / ``lengths`` say otherwise."""
    config = loaded.model.config
    sequences = encode_sequences(cases.cases, cases.timepoints, config.groups)
    values, seq_lengths = sequences.values, sequences.lengths
    if lengths is not None:
        values, seq_lengths = truncate(values, seq_lengths, lengths)
    kinds = main_condition_kinds(config, cases.n) if kinds is None else kinds
    logits = predict_logits(loaded.model, cases, values, seq_lengths, kinds)
    return softmax(logits, loaded.temperature if calibrated else 1.0)


def _metrics(y: np.ndarray, proba: np.ndarray) -> dict[str, float | None]:
    return scores(y, proba).to_dict()


def subgroup_metrics(y: np.ndarray, proba: np.ndarray) -> dict[str, Any]:
    """A subgroup's metrics; under :data:`MIN_SUBGROUP` cases its size and why there are none
    (said, not left out: a subgroup this small has no stable metrics)."""
    if len(y) >= MIN_SUBGROUP:
        return _metrics(y, proba)
    return {"n": int(len(y)), "note": f"fewer than {MIN_SUBGROUP} cases: no metrics"}


def evaluate(
    model_dir: Path,
    test: CaseSet,
    train_cases: CaseSet | None,
    progress: Callable[[str], None] | None = None,
) -> EvaluationReport:
    """Every table and breakdown for the model in ``model_dir`` on ``test``.

    Args:
        model_dir: the main model; variants in ``model_dir/variants/<variant>/``.
        test: held-out cases (never used in training: a different phantom seed).
        train_cases: the main model's training cohort (for the Random Forest and the latent
            reference); None skips those rows.
        progress: called with a short message before each step.
    """
    say = progress or (lambda message: None)
    y = test.outcomes
    main = LoadedModel(*load_model(model_dir))
    loaded: dict[str, LoadedModel | None] = {"mmcrnet": main}
    for variant in ("cnn-only", "lstm-only", "no-imaging", "no-clinical", "no-genomic"):
        folder = Path(model_dir) / "variants" / variant
        loaded[variant] = (
            LoadedModel(*load_model(folder)) if (folder / "model.json").is_file() else None
        )
    rows: dict[str, Row] = {}
    for name, item in loaded.items():
        say(f"scoring {name}")
        if item is None:
            rows[name] = Row(
                name,
                None,
                f"not trained: python -m mmcrnet train --variant {name} "
                f"... --out {Path(model_dir) / 'variants' / name}",
            )
        else:
            rows[name] = Row(name, _metrics(y, model_probabilities(item, test)))
    references: list[Row] = []
    if train_cases is not None:
        train_rows, _, _ = split_rows(
            train_cases.n, int(main.card["split"]["seed"]), tuple(main.card["split"]["fractions"])
        )
        fit_on = subset(train_cases, train_rows)
        say("fitting the Random Forest")
        rows["random-forest"] = Row(
            "random-forest",
            _metrics(y, random_forest(fit_on, test, seed=0)),
            "500 trees on tabular data + 12 MRI intensity/shape summaries",
        )
        if test.truth is not None and fit_on.truth is not None:
            say("fitting the latent reference")
            references.append(
                Row(
                    "latent reference",
                    _metrics(y, latent_reference(fit_on, test)),
                    "logistic regression, observed tabular data + true latents",
                )
            )
    else:
        rows["random-forest"] = Row(
            "random-forest",
            None,
            "not fitted: evaluate --references fits it on the model's training cohort",
        )
    if test.truth is not None:
        references.insert(0, Row("oracle", _metrics(y, oracle(test)), "true eta_full"))

    say("calibration and breakdowns")
    raw = model_probabilities(main, test, calibrated=False)
    calibrated = model_probabilities(main, test)
    calibration = {
        "temperature": main.temperature,
        "before": scores(y, raw).to_dict(),
        "after": scores(y, calibrated).to_dict(),
    }
    image_kind = MRI if main.model.config.uses_image else NO_IMAGE
    by_time: dict[str, Any] = {}
    for length in range(1, 5):
        proba = model_probabilities(main, test, lengths=np.full(test.n, length))
        by_time[str(length)] = _metrics(y, proba)
    by_subtype: dict[str, Any] = {}
    for index, name in enumerate(SUBTYPES):
        chosen = test.subtypes == index
        by_subtype[name] = subgroup_metrics(y[chosen], calibrated[chosen])
    by_image: dict[str, Any] = {}
    for kind in (MRI, MAMMOGRAM, NO_IMAGE):
        if kind != NO_IMAGE and not main.model.config.uses_image:
            continue
        proba = model_probabilities(main, test, kinds=np.full(test.n, kind))
        by_image[IMAGE_KINDS[kind]] = _metrics(y, proba)
    return EvaluationReport(
        test.description,
        test.n,
        tuple(rows[n] for n in TABLE2),
        tuple(rows[n] for n in TABLE4),
        tuple(references),
        calibration,
        by_time,
        by_subtype,
        by_image,
        extra={
            "condition": "full sequences (4 time points), "
            f"{IMAGE_KINDS[image_kind]} image, calibrated probabilities",
            "curves": curves(y, calibrated).to_dict(),
            "model": {
                "folder": str(model_dir),
                "card": read_card(model_dir).get("name"),
                "sha256": main.card["weights"]["sha256"],
            },
        },
    )


def _num(value: float | None, width: int = 7, digits: int = 3) -> str:
    """A metric for a text table; "n/a" where it is undefined (e.g. AUC without every
    outcome present)."""
    return f"{'n/a':>{width}}" if value is None else f"{value:{width}.{digits}f}"


def format_report(result: dict) -> str:
    """The evaluation as plain-text tables."""
    lines = [
        f"test set: {result['test']['description']} (n={result['test']['n']}); "
        f"{result['condition']}"
    ]

    def table(title: str, rows: list[dict]) -> None:
        lines.append(f"\n{title}")
        lines.append(
            f"  {'model':<18}{'acc':>7}{'prec':>7}{'rec':>7}{'F1':>7}{'AUC':>7}"
            f"{'ECE':>7}   paper acc/AUC"
        )
        for row in rows:
            m = row["metrics"]
            paper = row.get("paper")
            paper_text = f"{paper['accuracy']:.1f} / {paper['auc']:.1f}" if paper else ""
            if m is None:
                lines.append(f"  {row['name']:<18}  {row['note']}")
                continue
            numbers = "".join(
                _num(m[k]) for k in ("accuracy", "precision", "recall", "f1", "auc", "ece")
            )
            lines.append(f"  {row['name']:<18}{numbers}   {paper_text}")

    table("Table 2: MM-CRNet vs baselines", result["table2"])
    table("Table 4: ablations (retrained without one modality)", result["table4"])
    table("References", result["references"])
    cal = result["calibration"]
    lines.append(
        f"\ncalibration (temperature {cal['temperature']:.3f}): "
        f"ECE {_num(cal['before']['ece'], 0)} -> {_num(cal['after']['ece'], 0)}, "
        f"Brier {_num(cal['before']['brier'], 0)} -> {_num(cal['after']['brier'], 0)}, "
        f"slope {_num(cal['before']['calibration_slope'], 0, 2)} -> "
        f"{_num(cal['after']['calibration_slope'], 0, 2)}"
    )
    for title, key in (
        ("time points", "by_time_points"),
        ("subtype", "by_subtype"),
        ("image input", "by_image"),
    ):
        parts = [
            f"{k}: n {v['n']}, acc {_num(v['accuracy'], 0)} AUC {_num(v['auc'], 0)}"
            if v.get("accuracy") is not None
            else f"{k}: n {v['n']} ({v.get('note', 'no metrics')})"
            for k, v in result[key].items()
        ]
        lines.append(f"by {title}: " + ("; ".join(parts) or "no cases"))
    return "\n".join(lines)
