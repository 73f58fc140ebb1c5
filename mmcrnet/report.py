"""One result document per case: what was read, what was left out, the prediction, its reasons,
the guard's verdict and who made it, as schema-versioned plain JSON.

The Predict page's download, ``explain --json`` and later reports share it. It holds no
patient identifiers and no server paths: the image is summarised by what the model read
(modality, phases, geometry, file names without folders).
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import MISSING, asdict, dataclass, field, fields
from pathlib import PurePath
from typing import Any, Protocol

from mmcrnet.errors import OncoPredictError

#: The app's version, recorded in every result document (pyproject.toml says the same).
APP_VERSION = "0.1.0"
SCHEMA = "oncopredict.case-result"
SCHEMA_VERSION = 1
DISCLAIMER = "Research use only — not for clinical decisions."
#: Study summary keys that identify a patient or a server, never written to a document.
_IDENTIFYING = ("patient_id", "study_uid")


def percent(p: float) -> str:
    """A probability as a clinician reads it: "< 1 %", "> 99 %", else whole percent (the
    pages and the PDF report say it the same way)."""
    if p < 0.01:
        return "< 1 %"
    if p > 0.99:
        return "> 99 %"
    return f"{p:.0%}".replace("%", " %")


class InvalidReport(OncoPredictError):
    """A result document that is not one this version can read."""


# What the document needs of the engine's results. This module sits below them (the pages,
# the CLI and later the PDF and DICOM export all read it), so it names their shape, not them.
class StudyLike(Protocol):
    """An :class:`mmcrnet.io.Study`."""

    def summary(self) -> dict[str, object]: ...


class PredictionLike(Protocol):
    """An :class:`mmcrnet.predict.Prediction`."""

    @property
    def model(self) -> str: ...

    @property
    def weights_sha256(self) -> str: ...

    @property
    def training_data(self) -> str: ...


class ExplanationLike(Protocol):
    """An :class:`mmcrnet.explain.Explanation`."""

    @property
    def prediction(self) -> PredictionLike: ...

    def to_dict(self, include_maps: bool = True) -> dict[str, Any]: ...


class GuardReportLike(Protocol):
    """An :class:`mmcrnet.guard.GuardReport`."""

    def to_dict(self) -> dict[str, Any]: ...


class Pseudonyms:
    """File and folder names replaced by "file 1", "file 2" ... (in the order read) and
    "[folder]": upload and folder names often carry the patient's name, and server paths say
    where the data lives. Applied to every string of a document's image summary, left-out list
    and guard verdict."""

    def __init__(self, sources: Sequence[str]) -> None:
        self.files = {str(s): f"file {i + 1}" for i, s in enumerate(sources)}
        parts: set[str] = set()
        for source in self.files:  # the folders and archives the files came from
            for parent in PurePath(source.replace("\\", "/")).parents:
                text = str(parent)
                # a bare word ("mri") could be an ordinary value elsewhere: only paths and zips
                if "/" in text.strip("/") or text.lower().endswith(".zip"):
                    parts.add(text)
        # longest first, so a path goes before the folder names inside it
        names = sorted(self.files, key=len, reverse=True)
        rest = sorted(parts - set(self.files), key=len, reverse=True)
        self._pattern = (
            re.compile("|".join(f"(?<![\\w.-]){re.escape(n)}(?![\\w.-])" for n in names + rest))
            if names
            else None
        )

    def text(self, value: str) -> str:
        if self._pattern is None:
            return value
        return self._pattern.sub(lambda m: self.files.get(m.group(0), "[folder]"), value)

    def apply(self, document: dict[str, Any]) -> dict[str, Any]:
        """``document`` (JSON-like) with every name in every string replaced."""
        return {key: self._apply(value) for key, value in document.items()}

    def _apply(self, value: object) -> object:
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, list | tuple):
            return [self._apply(v) for v in value]
        if isinstance(value, dict):
            return {k: self._apply(v) for k, v in value.items()}
        return value


def file_names(study: StudyLike | None) -> list[str]:
    """The names of a study's files: those read, then those left out ("name: reason" lines)."""
    if study is None:
        return []
    summary = study.summary()
    read, left_out = summary.get("sources", []), summary.get("left_out", [])
    names = [str(s) for s in read] if isinstance(read, list | tuple) else []
    if isinstance(left_out, list | tuple):
        names += [str(line).split(": ", 1)[0] for line in left_out]
    return list(dict.fromkeys(names))


def image_summary(
    study: StudyLike | None, names: Pseudonyms | None = None
) -> dict[str, Any] | None:
    """A study's summary without identifiers, its files and folders named by ``names`` (by
    default the study's own :class:`Pseudonyms`)."""
    if study is None:
        return None
    summary: dict[str, Any] = {k: v for k, v in study.summary().items() if k not in _IDENTIFYING}
    names = names or Pseudonyms(file_names(study))
    return names.apply(summary)


@dataclass(frozen=True)
class CaseReport:
    """The result document of one case (see the module docstring).

    Attributes:
        app: name and version of the app that made it; created: ISO 8601 time (UTC).
        case_label: the user's label for the case (never an identifier we derive).
        inputs: ``static`` and ``timepoints`` as entered, and ``image`` (:func:`image_summary`).
        left_out: one line per file or input the model did not read, with the reason.
        guard: the out-of-distribution guard's report (None when the model has no guard).
        explanation: the prediction with its reasons (maps only when asked for).
        model: name, weights SHA-256, training data.
    """

    app: dict[str, str]
    created: str
    case_label: str | None
    inputs: dict[str, Any]
    left_out: list[str]
    guard: dict[str, Any] | None
    explanation: dict[str, Any]
    model: dict[str, str]
    schema: str = SCHEMA
    schema_version: int = SCHEMA_VERSION
    disclaimer: str = DISCLAIMER
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def to_json(self, indent: int | None = 1) -> str:
        separators = (",", ":") if indent is None else None
        return json.dumps(self.to_dict(), indent=indent, separators=separators, default=str)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CaseReport:
        """Read a document back.

        Raises:
            InvalidReport: not an OncoPredict case result, a newer schema version, or a
                missing field (named).
        """
        if data.get("schema") != SCHEMA:
            raise InvalidReport(f"not an OncoPredict case result (schema {data.get('schema')!r})")
        version = data.get("schema_version")
        if not isinstance(version, int) or version > SCHEMA_VERSION:
            raise InvalidReport(
                f"case result schema version {version!r} is newer than this "
                f"app reads ({SCHEMA_VERSION})"
            )
        names = [f.name for f in fields(cls)]
        required = [
            f.name for f in fields(cls) if f.default is MISSING and f.default_factory is MISSING
        ]
        missing = [n for n in required if n not in data]
        if missing:
            raise InvalidReport(f"case result lacks '{missing[0]}'")
        return cls(**{n: data[n] for n in names if n in data})

    @classmethod
    def from_json(cls, text: str) -> CaseReport:
        """Raises InvalidReport for text that is not JSON or not a case result."""
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise InvalidReport(f"case result is not JSON ({exc})") from None
        if not isinstance(data, dict):
            raise InvalidReport("case result is not a JSON object")
        return cls.from_dict(data)


def case_report(
    explanation: ExplanationLike,
    static: Mapping[str, object],
    timepoints: Sequence[Mapping[str, object]],
    study: StudyLike | None = None,
    guard: GuardReportLike | None = None,
    left_out: Sequence[str] = (),
    case_label: str | None = None,
    include_maps: bool = False,
    app_version: str = APP_VERSION,
    now: dt.datetime | None = None,
) -> CaseReport:
    """The document for one explained case."""
    prediction = explanation.prediction
    created = (now or dt.datetime.now(dt.UTC)).isoformat(timespec="seconds")
    names = Pseudonyms(file_names(study))
    return CaseReport(
        app={"name": "OncoPredict", "version": app_version},
        created=created,
        case_label=case_label,
        inputs={
            "static": dict(static),
            "timepoints": [dict(r) for r in timepoints],
            "image": image_summary(study, names),
        },
        left_out=[names.text(line) for line in left_out],
        guard=names.apply(guard.to_dict()) if guard is not None else None,
        explanation=explanation.to_dict(include_maps=include_maps),
        model={
            "name": prediction.model,
            "weights_sha256": prediction.weights_sha256,
            "training_data": prediction.training_data,
        },
    )
