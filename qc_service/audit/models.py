"""ORM model for audit events: an append-only, hash-chained table.

Why no foreign keys: the trail must outlive, and never block changes to, the rows it describes, so
entities are named by type and id as strings and the tenant by its id. Why a hash chain: each
event stores the previous event's hash and its own, so an edited or removed row is found by
``qc audit verify`` even if someone drops the database triggers that refuse UPDATE and DELETE.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Index, String, Text, event, inspect, select, text
from sqlalchemy.orm import Mapped, Session, mapped_column

from qc_service.audit.chain import GENESIS, event_hash
from qc_service.db.base import Base, JSONType, utcnow


class AuditEvent(Base):
    """One sensitive act: who did what to which object, why, and a summary of the change."""

    __tablename__ = "audit_events"
    __table_args__ = (
        Index("ix_audit_events_entity_type_entity_id", "entity_type", "entity_id"),
        Index("ix_audit_events_tenant_id_created_at", "tenant_id", "created_at"),
        Index("ix_audit_events_hash", "hash", unique=True),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[str] = mapped_column(String(64))
    entity_type: Mapped[str] = mapped_column(String(64))
    entity_id: Mapped[str] = mapped_column(String(255))
    action: Mapped[str] = mapped_column(String(64))
    actor: Mapped[str | None] = mapped_column(String(255))
    before: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    reason: Mapped[str | None] = mapped_column(Text, default=None)
    prev_hash: Mapped[str | None] = mapped_column(String(64), default=None)
    hash: Mapped[str | None] = mapped_column(String(64), default=None)


_PG_CHAIN_LOCK = 0x51C_A0D17
"""Advisory lock key that serialises writers of the chain on PostgreSQL (held to commit)."""


@event.listens_for(Session, "before_flush")
def _chain_new_events(session: Session, _flush_context: Any, _instances: Any) -> None:
    """Give every new event its previous hash and its own, in the order they were added.

    Why a flush hook: every code path that adds an ``AuditEvent`` is chained, with no way to
    forget; the lock (PostgreSQL) or SQLite's single writer keeps two transactions from chaining
    onto the same previous event. If the event cannot be written, the action's transaction fails.
    """
    new = [o for o in session.new if isinstance(o, AuditEvent)]
    if not new:
        return
    new.sort(key=lambda o: inspect(o).insert_order or 0)
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_CHAIN_LOCK})
    with session.no_autoflush:
        prev = session.scalar(
            select(AuditEvent.hash)
            .where(AuditEvent.hash.is_not(None))
            .order_by(AuditEvent.id.desc())
            .limit(1)
        )
    prev = prev or GENESIS
    for ev in new:
        if ev.created_at is None:
            ev.created_at = utcnow()
        ev.prev_hash = prev
        ev.hash = event_hash(prev, ev)
        prev = ev.hash
