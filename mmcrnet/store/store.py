"""The case store's operations: pseudonymous cases, visits, the append-only prediction record.

    label (checked) -> case -> visit (form + de-identified image) -> prediction record
                    -> trajectory across visits, each with the model that answered

What is stored: the label the user chose (never a name, an ID or a birth date: a label that
looks like one is warned about), the form's values (schema features only), and the image as the
model read it: pixel arrays with their phase labels, times and geometry, without any DICOM
header (no names, IDs, UIDs or dates; file names are not kept). Pixels with burned-in text are
not cleaned, which the README says. The URL is ``ONCOPREDICT_DB`` (SQLite under
``ONCOPREDICT_WORK`` by default; PostgreSQL by ``postgresql+psycopg://...``).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import os
import re
import sqlite3
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from alembic import command
from alembic.config import Config
from alembic.util.exc import CommandError
from sqlalchemy import create_engine, event, func, select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session, selectinload

from mmcrnet.errors import InvalidArgument, OncoPredictError
from mmcrnet.io.phase import Phase
from mmcrnet.io.study import Study
from mmcrnet.report import Pseudonyms, file_names
from mmcrnet.store.tables import CaseRow, PredictionRow, VisitRow

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
MAX_LABEL = 80
#: What a label must not look like (it is the user's, so this warns, never refuses).
_IDENTIFIER_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"\b\d{1,4}[-/.]\d{1,2}[-/.]\d{1,4}\b"), "a date"),
    (re.compile(r"\d{6,}"), "a record or insurance number (6 or more digits)"),
    (re.compile(r"\b\d{3}[ -]\d{3}[ -]\d{4}\b"), "an NHS or phone number"),
    (re.compile(r"[\w.+-]+@[\w-]+\.[\w.]+"), "an e-mail address"),
    (re.compile(r"\b[A-Z][a-z]+,? [A-Z][a-z]+\b"), "a person's name"),
)


class CaseNotFound(InvalidArgument):
    """No case with that label."""


class StoreUnavailable(OncoPredictError):
    """The database cannot be opened or migrated (the URL is named without its password)."""


def shown_url(url: str) -> str:
    """The URL without its password (a SQLite file by its name, not its server path), for
    messages and pages."""
    if url.startswith("sqlite"):
        return f"a SQLite file ({Path(url.split('///', 1)[-1]).name})"
    return re.sub(r"(://[^:/@]+):[^@]*@", r"\1:***@", url)


def label_warnings(label: str) -> list[str]:
    """Why a label may identify a patient ("looks like a date"); empty when it does not."""
    return [
        f"the label looks like {what}: use a pseudonym, never a name, ID or birth date"
        for pattern, what in _IDENTIFIER_PATTERNS
        if pattern.search(label)
    ]


def check_label(label: str) -> str:
    """The label, stripped.

    Raises:
        InvalidArgument: empty, too long, or with characters that are not text.
    """
    text = label.strip()
    if not text:
        raise InvalidArgument("the case label is empty")
    if len(text) > MAX_LABEL:
        raise InvalidArgument(f"the case label has {len(text)} characters (at most {MAX_LABEL})")
    if any(ord(c) < 32 or ord(c) == 127 for c in text):
        raise InvalidArgument("the case label contains a control character")
    return text


def database_url(work: Path | None = None) -> str:
    """``ONCOPREDICT_DB``, else a SQLite file in the work folder."""
    url = os.environ.get("ONCOPREDICT_DB")
    if url:
        return url
    folder = work or Path(
        os.environ.get("ONCOPREDICT_WORK") or Path.home() / ".local" / "share" / "oncopredict"
    )
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StoreUnavailable(f"the work folder {folder} cannot be made: {exc.strerror}") from None
    return f"sqlite:///{folder / 'cases.sqlite'}"


def migrate(engine: Engine) -> None:
    """Bring the database's schema to the newest migration (Alembic; SQLite in batch mode)."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


# --- images: pixels and geometry only --------------------------------------------------------

_STUDY_FIELDS = (
    "modality",
    "kind",
    "slice_index",
    "slice_positions_mm",
    "pixel_spacing_mm",
    "window",
    "photometric",
    "body_part",
    "orientation",
    "phase_source",
)


def pack_study(study: Study) -> tuple[dict[str, Any], bytes, str]:
    """(summary, compressed pixel arrays, their SHA-256): the study without any header, file
    name, patient ID or UID."""
    summary: dict[str, Any] = {name: getattr(study, name) for name in _STUDY_FIELDS}
    names = Pseudonyms(file_names(study))  # PNG phases of unknown order carry file names
    summary["phases"] = [{"label": names.text(p.label), "time_s": p.time_s} for p in study.phases]
    buffer = io.BytesIO()
    arrays: dict[str, Any] = {
        f"phase{i}": p.volume.astype(np.float32) for i, p in enumerate(study.phases)
    }
    np.savez_compressed(buffer, **arrays)
    digest = hashlib.sha256(b"".join(p.volume.astype(np.float32).tobytes() for p in study.phases))
    return json.loads(json.dumps(summary)), buffer.getvalue(), digest.hexdigest()


def unpack_study(summary: Mapping[str, Any], data: bytes) -> Study:
    """The stored study, as the model read it."""
    with np.load(io.BytesIO(data), allow_pickle=False) as arrays:
        phases = tuple(
            Phase(str(p["label"]), i, p["time_s"], arrays[f"phase{i}"].astype(np.float32))
            for i, p in enumerate(summary["phases"])
        )

    def pair(value: object) -> tuple[float, float] | None:
        return (float(value[0]), float(value[1])) if isinstance(value, list) else None

    positions = summary.get("slice_positions_mm")
    orientation = summary.get("orientation")
    return Study(
        modality=str(summary["modality"]),
        kind=str(summary["kind"]),
        phases=phases,
        slice_index=int(summary["slice_index"]),
        slice_positions_mm=tuple(positions) if positions else None,
        pixel_spacing_mm=pair(summary.get("pixel_spacing_mm")),
        window=pair(summary.get("window")) or (0.0, 1.0),
        photometric=str(summary.get("photometric", "MONOCHROME2")),
        sources=("stored image",),
        transfer_syntaxes=(),
        warnings=(),
        body_part=summary.get("body_part"),
        orientation=tuple(orientation) if orientation else None,
        phase_source=str(summary.get("phase_source", "dicom")),
    )


# --- records ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class PredictionRecord:
    """One entry of the append-only record."""

    id: int
    created: dt.datetime
    model_name: str
    model_version: str
    weights_sha256: str
    inputs_sha256: str
    result: dict[str, Any]

    @property
    def probabilities(self) -> dict[str, float]:
        return dict(
            self.result.get("explanation", {}).get("prediction", {}).get("probabilities", {})
        )

    @property
    def label(self) -> str | None:
        return self.result.get("explanation", {}).get("prediction", {}).get("label")


@dataclass(frozen=True)
class VisitRecord:
    """A visit: the form, whether an image was kept, and its predictions (oldest first)."""

    id: int
    number: int
    created: dt.datetime
    static: dict[str, Any]
    timepoints: list[dict[str, Any]]
    image_summary: dict[str, Any] | None
    image_sha256: str | None
    predictions: tuple[PredictionRecord, ...]

    @property
    def latest(self) -> PredictionRecord | None:
        return self.predictions[-1] if self.predictions else None

    @property
    def time_points(self) -> list[str]:
        return [str(r.get("time_point")) for r in self.timepoints]


@dataclass(frozen=True)
class CaseRecord:
    label: str
    created: dt.datetime
    visits: tuple[VisitRecord, ...]

    def trajectory(self) -> list[dict[str, Any]]:
        """One row per visit with a prediction: the visit, its time points, the latest
        prediction's probabilities and the model that made it."""
        rows = []
        for visit in self.visits:
            latest = visit.latest
            if latest is None:
                continue
            rows.append(
                {
                    "visit": visit.number,
                    "date": visit.created.date().isoformat(),
                    "time_points": ", ".join(visit.time_points),
                    **latest.probabilities,
                    "predicted": latest.label,
                    "model": f"{latest.model_name} ({latest.weights_sha256[:12]})",
                }
            )
        return rows


@dataclass(frozen=True)
class CaseSummary:
    label: str
    created: dt.datetime
    visits: int
    last_visit: dt.datetime | None


def inputs_hash(
    static: Mapping[str, Any], timepoints: Sequence[Mapping[str, Any]], image_sha256: str | None
) -> str:
    """SHA-256 of what the model read: the form (canonical JSON) and the image's pixels."""
    canonical = json.dumps(
        {"static": static, "timepoints": list(timepoints), "image": image_sha256},
        sort_keys=True,
        default=str,
        separators=(",", ":"),
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def _aware(value: dt.datetime) -> dt.datetime:
    """In UTC: SQLite drops the zone (we wrote UTC); PostgreSQL answers in its own zone."""
    return value.astimezone(dt.UTC) if value.tzinfo else value.replace(tzinfo=dt.UTC)


def _prediction(row: PredictionRow) -> PredictionRecord:
    return PredictionRecord(
        row.id,
        _aware(row.created),
        row.model_name,
        row.model_version,
        row.weights_sha256,
        row.inputs_sha256,
        dict(row.result),
    )


def _visit(row: VisitRow) -> VisitRecord:
    return VisitRecord(
        row.id,
        row.number,
        _aware(row.created),
        dict(row.static),
        [dict(r) for r in row.timepoints],
        dict(row.image_summary) if row.image_summary else None,
        row.image_sha256,
        tuple(_prediction(p) for p in row.predictions),
    )


class CaseStore:
    """The store at a database URL (schema migrated on opening)."""

    def __init__(self, url: str) -> None:
        self.url = url
        try:
            self.engine = create_engine(url)
            if self.engine.dialect.name == "sqlite":
                event.listen(self.engine, "connect", _sqlite_foreign_keys)
            migrate(self.engine)
        except (SQLAlchemyError, CommandError, OSError, ImportError, ValueError) as exc:
            first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise StoreUnavailable(
                f"the case store at {shown_url(url)} cannot be opened: {first}"
            ) from None

    @classmethod
    def from_environment(cls) -> CaseStore:
        return cls(database_url())

    def close(self) -> None:
        self.engine.dispose()

    def create_case(self, label: str) -> CaseRecord:
        """A new case.

        Raises:
            InvalidArgument: a bad label, or one already in use.
        """
        text = check_label(label)
        try:
            with Session(self.engine) as session, session.begin():
                session.add(CaseRow(label=text))
        except IntegrityError:
            raise InvalidArgument(f"a case labelled '{text}' already exists") from None
        return self.case(text)

    def cases(self) -> list[CaseSummary]:
        """Every case, the most recently visited first."""
        with Session(self.engine) as session:
            rows = session.execute(
                select(
                    CaseRow.label,
                    CaseRow.created,
                    func.count(VisitRow.id),
                    func.max(VisitRow.created),
                )
                .outerjoin(VisitRow)
                .group_by(CaseRow.id)
            ).all()
        out = [
            CaseSummary(label, _aware(created), count, _aware(last) if last else None)
            for label, created, count, last in rows
        ]
        return sorted(out, key=lambda c: c.last_visit or c.created, reverse=True)

    def case(self, label: str) -> CaseRecord:
        """A case with its visits and predictions.

        Raises:
            CaseNotFound: no case has that label.
        """
        with Session(self.engine) as session:
            row = session.scalars(
                select(CaseRow)
                .where(CaseRow.label == label.strip())
                .options(selectinload(CaseRow.visits).selectinload(VisitRow.predictions))
            ).one_or_none()
            if row is None:
                raise CaseNotFound(f"no case is labelled '{label.strip()}'")
            return CaseRecord(row.label, _aware(row.created), tuple(_visit(v) for v in row.visits))

    def add_visit(
        self,
        label: str,
        static: Mapping[str, Any],
        timepoints: Sequence[Mapping[str, Any]],
        study: Study | None,
    ) -> VisitRecord:
        """Record a visit's form and image (de-identified) as the case's next visit.

        Raises:
            CaseNotFound: no case has that label.
        """
        image = pack_study(study) if study is not None else None
        with Session(self.engine) as session, session.begin():
            case = _case_row(session, label.strip())
            visit_id = _next_visit(
                session, case, _plain(dict(static)), _plain([dict(r) for r in timepoints]), image
            ).id
        return self.visit(visit_id)

    def visit(self, visit_id: int) -> VisitRecord:
        with Session(self.engine) as session:
            row = session.scalars(
                select(VisitRow)
                .where(VisitRow.id == visit_id)
                .options(selectinload(VisitRow.predictions))
            ).one_or_none()
            if row is None:
                raise InvalidArgument(f"no visit has id {visit_id}")
            return _visit(row)

    def visit_study(self, visit_id: int) -> Study | None:
        """The image of a visit as the model read it (None when the visit had none)."""
        with Session(self.engine) as session:
            row = session.get(VisitRow, visit_id)
            if row is None:
                raise InvalidArgument(f"no visit has id {visit_id}")
            if row.image is None or row.image_summary is None:
                return None
            return unpack_study(row.image_summary, row.image)

    def save_visit(
        self,
        label: str,
        static: Mapping[str, Any],
        timepoints: Sequence[Mapping[str, Any]],
        study: Study | None,
        result: Mapping[str, Any],
        model_name: str,
        model_version: str,
        weights_sha256: str,
        new_case: bool = False,
    ) -> VisitRecord:
        """The case (when ``new_case``), its next visit and the visit's prediction, in one
        transaction: all of it is saved or none. Two sessions adding a visit to the same case
        at once get consecutive numbers (the loser of the race retries).

        Raises:
            InvalidArgument: a bad label, or ``new_case`` with a label in use.
            CaseNotFound: not ``new_case`` and no case has that label.
            StoreUnavailable: the database refuses (down, locked, read-only).
        """
        text = check_label(label)
        image = pack_study(study) if study is not None else None
        form, rows = _plain(dict(static)), _plain([dict(r) for r in timepoints])
        for attempt in range(3):
            try:
                with Session(self.engine) as session, session.begin():
                    if new_case:
                        case = CaseRow(label=text)
                        session.add(case)
                        session.flush()
                    else:
                        case = _case_row(session, text)
                    visit = _next_visit(session, case, form, rows, image)
                    session.add(
                        _prediction_row(visit, result, model_name, model_version, weights_sha256)
                    )
                    session.flush()
                    visit_id = visit.id
                return self.visit(visit_id)
            except IntegrityError:
                if new_case:
                    raise InvalidArgument(f"a case labelled '{text}' already exists") from None
                if attempt == 2:
                    raise StoreUnavailable(
                        f"visit numbers of '{text}' kept colliding; try again"
                    ) from None
            except SQLAlchemyError as exc:
                first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
                raise StoreUnavailable(f"the case store refused the save: {first}") from None
        raise AssertionError("unreachable")

    def record_prediction(
        self,
        visit_id: int,
        result: Mapping[str, Any],
        model_name: str,
        model_version: str,
        weights_sha256: str,
    ) -> PredictionRecord:
        """Append a prediction of a visit (its result document, without maps) to the record."""
        with Session(self.engine) as session, session.begin():
            visit = session.get(VisitRow, visit_id)
            if visit is None:
                raise InvalidArgument(f"no visit has id {visit_id}")
            row = _prediction_row(visit, result, model_name, model_version, weights_sha256)
            session.add(row)
            session.flush()
            return _prediction(row)


def _plain(value: object) -> Any:  # noqa: ANN401
    """A JSON-ready copy: what the JSON columns hold, and what the inputs' hash reads."""
    return json.loads(json.dumps(value, default=str))


def _case_row(session: Session, label: str) -> CaseRow:
    case = session.scalars(select(CaseRow).where(CaseRow.label == label)).one_or_none()
    if case is None:
        raise CaseNotFound(f"no case is labelled '{label}'")
    return case


def _next_visit(
    session: Session,
    case: CaseRow,
    form: dict[str, Any],
    rows: list[dict[str, Any]],
    image: tuple[dict[str, Any], bytes, str] | None,
) -> VisitRow:
    """The case's next visit (numbered after its last), added and flushed."""
    number = (
        session.scalar(select(func.max(VisitRow.number)).where(VisitRow.case_id == case.id)) or 0
    ) + 1
    summary, data, digest = image if image is not None else (None, None, None)
    visit = VisitRow(
        case_id=case.id,
        number=number,
        static=form,
        timepoints=rows,
        image_summary=summary,
        image=data,
        image_sha256=digest,
    )
    session.add(visit)
    session.flush()
    return visit


def _prediction_row(
    visit: VisitRow,
    result: Mapping[str, Any],
    model_name: str,
    model_version: str,
    weights_sha256: str,
) -> PredictionRow:
    """A record entry for a visit, the hash of exactly what it holds (form and pixels)."""
    return PredictionRow(
        visit_id=visit.id,
        model_name=model_name,
        model_version=model_version,
        weights_sha256=weights_sha256,
        inputs_sha256=inputs_hash(visit.static, visit.timepoints, visit.image_sha256),
        result=_plain(dict(result)),
    )


def _sqlite_foreign_keys(connection: sqlite3.Connection, _record: object) -> None:
    cursor = connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()
