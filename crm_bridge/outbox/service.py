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
from qc_service.db.session import insert_rows

EVENT_TYPES = frozenset({
    "tag.added", "tag.removed", "violation.opened", "violation.decided",
    "customer.transfer_requested", "alert.raised",
})  # fmt: skip


def ordering_key(tenant_id: str, customer_external_id: str) -> str:
    """Events of one customer are delivered in the order they were written."""
    return f"{tenant_id}:{customer_external_id}"


def event_row(
    *, tenant_id: str, event_type: str, customer_external_id: str, data: dict[str, Any],
    occurred_at: datetime | None = None,
) -> dict[str, Any]:  # fmt: skip
    """The outbox row of one event, as column values.

    The payload is the envelope the webhook adapter posts:
    ``{"id", "type", "occurred_at", "tenant", "data"}``; ``id`` is the idempotency key.
    """
    if event_type not in EVENT_TYPES:
        raise ValueError(f"unknown outbox event type {event_type!r}")
    event_id = new_event_id()
    when = occurred_at or utcnow()
    return {
        "tenant_id": tenant_id, "event_id": event_id, "event_type": event_type,
        "ordering_key": ordering_key(tenant_id, customer_external_id),
        "payload": {"id": event_id, "type": event_type, "occurred_at": when.isoformat(), "tenant": tenant_id,
                    "data": {"customer_id": customer_external_id, **data}},
        "status": "pending", "attempts": 0, "next_attempt_at": when, "created_at": utcnow(),
    }  # fmt: skip


def enqueue(
    *,
    db_session: Session,
    tenant_id: str,
    event_type: str,
    customer_external_id: str,
    data: dict[str, Any],
    occurred_at: datetime | None = None,
) -> OutboxEvent:
    """Add one event to the outbox in the caller's transaction (delivered after it commits)."""
    row = OutboxEvent(**event_row(tenant_id=tenant_id, event_type=event_type,
                                  customer_external_id=customer_external_id, data=data,
                                  occurred_at=occurred_at))  # fmt: skip
    db_session.add(row)
    return row


def enqueue_many(db_session: Session, rows: list[dict[str, Any]]) -> None:
    """Insert many ``event_row``s in one statement (a segment run's tags): same rows, same
    transaction, no ORM object per event."""
    insert_rows(db_session, OutboxEvent, rows)
