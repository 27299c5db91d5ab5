"""ORM models of segments (人群分组): versions, runs, current members, transitions.

Why members and transitions are separate tables written in one transaction: a run diffs the new
membership against ``segment_members``; each enter/leave writes the member row, its transition
and its effects (tags, alerts through the outbox) together, so a run killed at any point and run
again applies every transition exactly once: what committed is no longer a difference.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint, event
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Mapped, Mapper, mapped_column

from qc_service.db.base import Base, CreatedAtMixin, JSONType, TimestampMixin, utcnow


class SegmentVersionImmutableError(RuntimeError):
    """Raised when a flush would UPDATE a published segment version."""


class Segment(TimestampMixin, Base):
    """A segment's identity within a tenant, its current version, last run and run lease."""

    __tablename__ = "segments"
    __table_args__ = (UniqueConstraint("tenant_id", "segment_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"))
    segment_id: Mapped[str] = mapped_column(String(128))
    name: Mapped[str] = mapped_column(String(255))
    enabled: Mapped[bool] = mapped_column(default=True)
    current_version: Mapped[int]
    last_run_id: Mapped[str | None] = mapped_column(String(32), default=None)
    last_run_at: Mapped[datetime | None] = mapped_column(default=None)
    """When the last applied run finished (the schedule reads it)."""
    last_as_of: Mapped[datetime | None] = mapped_column(default=None)
    lease_owner: Mapped[str | None] = mapped_column(String(64), default=None)
    """The run holding the segment: two runs of one segment never both apply."""
    lease_until: Mapped[datetime | None] = mapped_column(default=None)


class SegmentVersion(CreatedAtMixin, Base):
    """One published, immutable version of a segment definition."""

    __tablename__ = "segment_versions"
    __table_args__ = (UniqueConstraint("segment_pk", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    segment_pk: Mapped[int] = mapped_column(ForeignKey("segments.id"))
    version: Mapped[int]
    definition: Mapped[dict[str, Any]] = mapped_column(JSONType)
    lexicons: Mapped[dict[str, list[str]]] = mapped_column(JSONType, default=dict)
    checksum: Mapped[str] = mapped_column(String(64))


@event.listens_for(SegmentVersion, "before_update")
def _refuse_version_update(_m: Mapper[Any], _c: Connection, target: SegmentVersion) -> None:
    raise SegmentVersionImmutableError(
        f"segment versions are immutable (segment_pk={target.segment_pk}, version={target.version})"
    )


class SegmentRun(Base):
    """One run of one segment at one ``as_of``: what it counted and applied, or why it did not."""

    __tablename__ = "segment_runs"
    __table_args__ = (Index("ix_segment_runs_segment_started", "segment_pk", "started_at"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"))
    segment_pk: Mapped[int] = mapped_column(ForeignKey("segments.id"))
    version: Mapped[int]
    as_of: Mapped[datetime]
    trigger: Mapped[str] = mapped_column(String(16))
    """``cli`` | ``schedule`` | ``api``."""
    status: Mapped[str] = mapped_column(String(16), default="running")
    """``running`` | ``done`` | ``held`` (the guard) | ``failed``."""
    members: Mapped[int] = mapped_column(default=0)
    entered: Mapped[int] = mapped_column(default=0)
    left: Mapped[int] = mapped_column(default=0)
    error: Mapped[str | None] = mapped_column(Text, default=None)
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(default=None)


class SegmentMember(Base):
    """A customer in a segment now: since when, by which run and version, and why."""

    __tablename__ = "segment_members"

    segment_pk: Mapped[int] = mapped_column(ForeignKey("segments.id"), primary_key=True)
    customer_id: Mapped[int] = mapped_column(
        ForeignKey("customers.id"), primary_key=True, index=True
    )
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"))
    entered_at: Mapped[datetime]
    """The ``as_of`` of the run that let the customer in (``hold`` and ``in_segment`` count from it)."""
    run_id: Mapped[str] = mapped_column(String(32))
    version: Mapped[int]
    leaves: Mapped[list[str]] = mapped_column(JSONType, default=list)
    """Key paths of the leaves that were true when the customer entered."""


class SegmentTransition(CreatedAtMixin, Base):
    """A customer entering or leaving a segment, once, with the run that applied it."""

    __tablename__ = "segment_transitions"
    __table_args__ = (
        Index("ix_segment_transitions_segment_customer", "segment_pk", "customer_id"),
        Index("ix_segment_transitions_run", "run_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"))
    segment_pk: Mapped[int] = mapped_column(ForeignKey("segments.id"))
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    action: Mapped[str] = mapped_column(String(8))
    """``enter`` | ``leave``."""
    run_id: Mapped[str] = mapped_column(String(32))
    version: Mapped[int]
    as_of: Mapped[datetime]
    leaves: Mapped[list[str]] = mapped_column(JSONType, default=list)
