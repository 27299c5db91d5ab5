"""Declarative base and the column types every model shares.

Why here: one metadata (with a naming convention, so Alembic can name, find and drop every
constraint on SQLite and PostgreSQL alike), one JSON type (JSONB on PostgreSQL) and one timestamp
type (always timezone-aware UTC, on SQLite too) keep the two backends interchangeable. This module
imports no model module; ``qc_service.schema`` does that.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, DateTime, Dialect, MetaData
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator, TypeEngine

NAMING_CONVENTION: dict[str, str] = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
"""Constraint and index names, deterministic so migrations can refer to them."""


def utcnow() -> datetime:
    """The current time, timezone-aware, in UTC (the only kind of datetime the DB stores)."""
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """``DateTime(timezone=True)`` that stores UTC and always returns aware UTC datetimes.

    Why: SQLite has no time zones and returns naive values, PostgreSQL returns values in the
    session's ``TimeZone``. Normalising to UTC on the way in and out gives the same Python value on
    both. Naive datetimes are refused: they are a bug at the caller (which zone did it mean?).
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(
        self,
        value: datetime | None,
        dialect: Dialect,  # noqa: ARG002 (signature fixed by TypeDecorator)
    ) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value.isoformat()} given; use an aware datetime")
        return value.astimezone(UTC)

    def process_result_value(
        self,
        value: datetime | None,
        dialect: Dialect,  # noqa: ARG002
    ) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


JSONType: TypeEngine[Any] = JSON(none_as_null=True).with_variant(
    JSONB(none_as_null=True), "postgresql"
)
"""JSON document column: JSONB on PostgreSQL, JSON (text) on SQLite. ``None`` is SQL NULL."""


class Base(DeclarativeBase):
    """Base of every ORM model (qc_service and crm_bridge share one metadata)."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UTCDateTime()}


class CreatedAtMixin:
    """``created_at``, set by Python on insert."""

    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class TimestampMixin(CreatedAtMixin):
    """``created_at`` and ``updated_at`` (bumped by the ORM on every UPDATE)."""

    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
