"""ORM model for outbox events.

Why an outbox: a CRM write is recorded in the same transaction as the finding that caused it and
delivered after commit by the dispatcher, so a crash never loses a delivery and a CRM outage never
rolls back analysis. ``event_id`` is the idempotency key sent to the CRM; ``ordering_key`` (the
customer) lets the dispatcher keep one customer's events in order. Only ``qc_service.db.base`` is
imported: crm_bridge never depends on the service's domains.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from qc_service.db.base import Base, JSONType, utcnow


def new_event_id() -> str:
    """A fresh idempotency key (uuid4, 32 hex characters)."""
    return uuid.uuid4().hex


class OutboxEvent(Base):
    """One delivery to make to the tenant's CRM adapter, with its retry state."""

    __tablename__ = "outbox_events"
    __table_args__ = (
        Index("ix_outbox_events_status_next_attempt_at", "status", "next_attempt_at"),
        Index("ix_outbox_events_ordering_key", "ordering_key"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[str] = mapped_column(String(64))
    event_id: Mapped[str] = mapped_column(String(32), unique=True, default=new_event_id)
    event_type: Mapped[str] = mapped_column(String(64))
    ordering_key: Mapped[str] = mapped_column(String(255))
    payload: Mapped[dict[str, Any]] = mapped_column(JSONType)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    """``pending`` | ``delivered`` | ``failed`` | ``dead`` | ``skipped`` (nothing for that CRM to do)."""
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    delivered_at: Mapped[datetime | None]
