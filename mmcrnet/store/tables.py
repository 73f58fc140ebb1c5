"""The case store's tables (SQLAlchemy 2). The schema itself is made by the Alembic migrations
in ``migrations/versions``; these classes map it.

    cases        one row per pseudonymous case label
    visits       the form (and the de-identified image) at each visit of a case
    predictions  append-only: who answered what, on which inputs (triggers refuse UPDATE and
                 DELETE on both SQLite and PostgreSQL)
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, DateTime, ForeignKey, Integer, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class Base(DeclarativeBase):
    pass


class CaseRow(Base):
    __tablename__ = "cases"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    label: Mapped[str] = mapped_column(String(80), unique=True)
    created: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utc_now)
    visits: Mapped[list[VisitRow]] = relationship(back_populates="case", order_by="VisitRow.number")


class VisitRow(Base):
    __tablename__ = "visits"
    __table_args__ = (UniqueConstraint("case_id", "number"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    number: Mapped[int] = mapped_column(Integer)
    created: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utc_now)
    static: Mapped[dict[str, Any]] = mapped_column(JSON)
    timepoints: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    image_summary: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    image: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    image_sha256: Mapped[str | None] = mapped_column(String(64), nullable=True)
    case: Mapped[CaseRow] = relationship(back_populates="visits")
    predictions: Mapped[list[PredictionRow]] = relationship(
        back_populates="visit", order_by="PredictionRow.id"
    )


class PredictionRow(Base):
    __tablename__ = "predictions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    visit_id: Mapped[int] = mapped_column(ForeignKey("visits.id"))
    created: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utc_now)
    model_name: Mapped[str] = mapped_column(String(200))
    model_version: Mapped[str] = mapped_column(String(100))
    weights_sha256: Mapped[str] = mapped_column(String(64))
    inputs_sha256: Mapped[str] = mapped_column(String(64))
    result: Mapped[dict[str, Any]] = mapped_column(JSON)
    visit: Mapped[VisitRow] = relationship(back_populates="predictions")
