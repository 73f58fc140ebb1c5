"""One-case and batch inference: a case (its image study and its clinical/genomic values per
time point) -> calibrated probabilities of pCR / partial / none."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from mmcrnet.checkpoint import load_model
from mmcrnet.data import (IMAGE_KINDS, IMAGE_SIZE, NO_IMAGE, encode_sequences, image_input)
from mmcrnet.errors import InvalidCase
from mmcrnet.features import (DYNAMIC_FEATURES, FEATURES_BY_NAME, OUTCOMES, STATIC_FEATURES,
                              TIME_POINTS, WEEK_BOUNDS, WEEKS)
from mmcrnet.io import Study
from mmcrnet.metrics import softmax


@dataclass(frozen=True)
class ClinicalCase:
    """The tabular part of a case, as raw values (numbers or strings; None = missing).

    Attributes:
        static: static feature name -> value.
        timepoints: one mapping per observed time point, each with ``time_point`` (T0..T3),
            optionally ``week``, and dynamic feature values; T0 is required.
    """

    static: Mapping[str, object]
    timepoints: Sequence[Mapping[str, object]]

    def validate(self) -> None:
        """Raises InvalidCase naming the first bad field (unknown name, bad value, no T0, a week
        that is not a number, out of bounds or not after the previous time point's)."""
        for name, value in self.static.items():
            spec = FEATURES_BY_NAME.get(name)
            if spec is None or spec.timing != "static":
                raise InvalidCase(f"'{name}' is not a static feature")
            spec.parse(value)
        seen = []
        for row in self.timepoints:
            tp = row.get("time_point")
            if tp not in TIME_POINTS:
                raise InvalidCase(f"time_point '{tp}' is not one of {', '.join(TIME_POINTS)}")
            if tp in seen:
                raise InvalidCase(f"time point {tp} is given twice")
            seen.append(tp)
            for name, value in row.items():
                if name in ("time_point", "week"):
                    continue
                spec = FEATURES_BY_NAME.get(name)
                if spec is None or spec.timing != "dynamic":
                    raise InvalidCase(f"'{name}' at {tp} is not a per-time-point feature")
                spec.parse(value)
        if "T0" not in seen:
            raise InvalidCase("the baseline time point T0 is required")
        self._check_weeks()

    def _check_weeks(self) -> None:
        """Weeks (the nominal week where none is given) within bounds and increasing."""
        given = {str(row["time_point"]): row.get("week") for row in self.timepoints}
        previous: tuple[str, float] | None = None
        for tp, nominal in zip(TIME_POINTS, WEEKS):
            if tp not in given:
                continue
            raw = given[tp]
            try:
                week = nominal if raw is None or raw == "" or pd.isna(raw) else float(raw)  # type: ignore[arg-type]
            except (TypeError, ValueError):
                raise InvalidCase(f"week '{raw}' at {tp} is not a number") from None
            if not WEEK_BOUNDS[0] <= week <= WEEK_BOUNDS[1]:
                raise InvalidCase(f"week {week:g} at {tp} is outside {WEEK_BOUNDS[0]:g} to "
                                  f"{WEEK_BOUNDS[1]:g}")
            if previous is not None and week <= previous[1]:
                raise InvalidCase(f"week {week:g} at {tp} is not after week {previous[1]:g} at "
                                  f"{previous[0]}: each time point comes later than the one before")
            previous = (tp, week)

    @classmethod
    def from_tables(cls, cases: pd.DataFrame, timepoints: pd.DataFrame, case_id: str
                    ) -> ClinicalCase:
        """One case of a cohort's ``cases`` / ``timepoints`` tables (e.g. a bundled example).

        Raises:
            InvalidCase: ``case_id`` is not in ``cases``.
        """
        match = cases[cases["case_id"] == case_id]
        if match.empty:
            raise InvalidCase(f"case '{case_id}' is not in the cohort")
        static = match.iloc[0].drop("case_id").to_dict()
        rows = timepoints[timepoints["case_id"] == case_id].drop(columns="case_id")
        return cls(static, rows.to_dict("records"))

    def tables(self) -> tuple[pd.DataFrame, pd.DataFrame]:
        """The case as one-row ``cases`` and ``timepoints`` tables (case_id 'case')."""
        cases = pd.DataFrame([{"case_id": "case", **{s.name: self.static.get(s.name)
                                                     for s in STATIC_FEATURES}}])
        rows = []
        for row in self.timepoints:
            tp = str(row["time_point"])
            week = row.get("week")
            rows.append({"case_id": "case", "time_point": tp,
                         "week": WEEKS[TIME_POINTS.index(tp)] if week in (None, "") else week,
                         **{s.name: row.get(s.name) for s in DYNAMIC_FEATURES}})
        return cases, pd.DataFrame(rows)


@dataclass(frozen=True)
class Prediction:
    """A calibrated prediction and what produced it."""

    probabilities: dict[str, float]  # calibrated, in OUTCOMES order
    label: str
    uncalibrated: dict[str, float]
    image_kind: str  # "mri", "mammogram" or "none"
    time_points: int
    model: str
    weights_sha256: str
    temperature: float
    training_data: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def compute_device(name: str | torch.device | None = None) -> torch.device:
    """``name`` as a torch device, CUDA when present if None.

    Raises:
        ValueError: not a device name, or CUDA asked for where there is none.
    """
    if name is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise ValueError(f"device '{name}' is not a device name (cpu, cuda, cuda:0, ...)") \
            from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device '{name}': CUDA is not available on this machine")
    if device.type not in ("cpu", "cuda"):
        raise ValueError(f"device '{name}': only cpu and cuda are supported")
    return device


@dataclass(frozen=True)
class PreparedInput:
    """Model inputs of one case: image (1, 3, S, S), kind (1,), sequence (1, T, F), length (1,)."""

    image: torch.Tensor
    kind: torch.Tensor
    sequence: torch.Tensor
    length: torch.Tensor


class Predictor:
    """A loaded model (weights hash checked) that predicts one case at a time."""

    def __init__(self, model_dir: Path | str, device: str | torch.device | None = None) -> None:
        """Load the model in ``model_dir`` on ``device`` (default: CUDA when present).

        Raises:
            InvalidModel: a missing file or a weights hash that does not match the card;
            ValueError: an unknown device, or CUDA asked for on a machine without it.
        """
        self.device = compute_device(device)
        self.model, self.card = load_model(Path(model_dir), self.device)
        self.temperature = float(self.card["temperature"])

    @property
    def name(self) -> str:
        return str(self.card.get("name", "MM-CRNet"))

    def prepare(self, clinical: ClinicalCase, study: Study | None = None) -> PreparedInput:
        """Validate and encode a case.

        Raises:
            InvalidCase: a bad clinical value; UnsupportedImage: an image the model cannot read.
        """
        clinical.validate()
        cases, timepoints = clinical.tables()
        encoded = encode_sequences(cases, timepoints, self.model.config.groups)  # type: ignore[arg-type]
        image = np.zeros((1, 3, IMAGE_SIZE, IMAGE_SIZE), dtype=np.float32)
        kind = NO_IMAGE
        if study is not None and self.model.config.uses_image:
            kind, pixels = image_input(study)
            image[0, :pixels.shape[0]] = pixels
        return PreparedInput(torch.from_numpy(image).to(self.device),
                             torch.tensor([kind], device=self.device),
                             torch.from_numpy(encoded.values).to(self.device),
                             torch.from_numpy(encoded.lengths).to(self.device))

    @torch.no_grad()
    def logits(self, prepared: PreparedInput) -> np.ndarray:
        """(1, 3) uncalibrated logits."""
        return self.model(prepared.image, prepared.kind, prepared.sequence,
                          prepared.length).float().cpu().numpy()

    def predict(self, clinical: ClinicalCase, study: Study | None = None) -> Prediction:
        prepared = self.prepare(clinical, study)
        return self.prediction(prepared, self.logits(prepared))

    def prediction(self, prepared: PreparedInput, logits: np.ndarray) -> Prediction:
        """The typed result for a prepared case and its (1, 3) logits."""
        calibrated = softmax(logits, self.temperature)[0]
        raw = softmax(logits)[0]
        return Prediction(
            probabilities={c: float(p) for c, p in zip(OUTCOMES, calibrated)},
            label=OUTCOMES[int(calibrated.argmax())],
            uncalibrated={c: float(p) for c, p in zip(OUTCOMES, raw)},
            image_kind=IMAGE_KINDS[int(prepared.kind[0])],
            time_points=int(prepared.length[0]),
            model=self.name, weights_sha256=str(self.card["weights"]["sha256"]),
            temperature=self.temperature, training_data=str(self.card.get("training_data")))
