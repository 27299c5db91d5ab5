"""Writing to the outbox: one row per external effect, in the transaction of the finding.

Why the caller's session: an effect (a tag for the CRM, a violation summary, an owner transfer,
a webhook alert) must exist exactly when the finding that caused it does; the dispatcher
delivers it after commit, with retries, in per-customer order, under a stable event id that
receivers use as the idempotency key.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from crm_bridge.outbox.models import OutboxEvent, new_event_id
from qc_service.db.base import utcnow

EVENT_TYPES = frozenset({
    "tag.added", "tag.removed", "violation.opened", "violation.decided",
    "customer.transfer_requested", "alert.raised",
})  # fmt: skip


def ordering_key(tenant_id: str, customer_external_id: str) -> str:
    """Events of one customer are delivered in the order they were written."""
    return f"{tenant_id}:{customer_external_id}"


def enqueue(
    *,
    db_session: Session,
    tenant_id: str,
    event_type: str,
    customer_external_id: str,
    data: dict[str, Any],
    occurred_at: datetime | None = None,
) -> OutboxEvent:
    """Add one event to the outbox in the caller's transaction (delivered after it commits).

    The payload is the envelope the webhook adapter posts:
    ``{"id", "type", "occurred_at", "tenant", "data"}``; ``id`` is the idempotency key.
    """
    if event_type not in EVENT_TYPES:
        raise ValueError(f"unknown outbox event type {event_type!r}")
    event_id = new_event_id()
    when = occurred_at or utcnow()
    row = OutboxEvent(
        tenant_id=tenant_id,
        event_id=event_id,
        event_type=event_type,
        ordering_key=ordering_key(tenant_id, customer_external_id),
        payload={
            "id": event_id,
            "type": event_type,
            "occurred_at": when.isoformat(),
            "tenant": tenant_id,
            "data": {"customer_id": customer_external_id, **data},
        },
        status="pending",
        attempts=0,
        next_attempt_at=when,
    )
    db_session.add(row)
    return row
