"""Operating the outbox: look at events, retry one, replay the dead letters.

Why functions over a session factory: the CLI (``qc outbox``), an admin API and tests share
them, and each write is its own short ``write_transaction``; the dispatcher picks the changed
rows up on its next pass.
"""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import CursorResult, func, select, update
from sqlalchemy.orm import Session, sessionmaker

from crm_bridge.outbox.models import OutboxEvent
from qc_service.audit.service import record
from qc_service.db.base import utcnow
from qc_service.db.session import write_transaction

STATUSES = ("pending", "failed", "delivered", "dead", "skipped")
REPLAYABLE = frozenset({"dead", "failed"})


class EventNotFound(LookupError):
    """No outbox event has that primary key or event id."""


class NotRetryable(ValueError):
    """The event is delivered (or the status cannot be replayed): sending it again is refused."""


def _check_status(status: str | None) -> None:
    if status is not None and status not in STATUSES:
        raise ValueError(f"unknown outbox status {status!r}; one of {', '.join(STATUSES)}")


def list_events(
    session_factory: sessionmaker[Session], *, status: str | None = None, limit: int = 50
) -> list[OutboxEvent]:
    """The newest ``limit`` events, optionally of one status (detached, readable rows)."""
    _check_status(status)
    query = select(OutboxEvent).order_by(OutboxEvent.id.desc()).limit(limit)
    if status is not None:
        query = query.where(OutboxEvent.status == status)
    with session_factory() as db_session:
        return list(db_session.scalars(query))


def _find(db_session: Session, event_pk_or_id: int | str) -> OutboxEvent | None:
    key = str(event_pk_or_id).strip()
    if key.isdigit() and len(key) < 32:  # event ids are 32 hex characters
        return db_session.get(OutboxEvent, int(key))
    return db_session.scalars(select(OutboxEvent).where(OutboxEvent.event_id == key)).one_or_none()


def retry(
    session_factory: sessionmaker[Session], event_pk_or_id: int | str, *, actor: str = "system"
) -> OutboxEvent:
    """Make one failed or dead event due now (a dead one also gets its attempts back); audited."""
    with write_transaction(session_factory) as db_session:
        row = _find(db_session, event_pk_or_id)
        if row is None:
            raise EventNotFound(f"no outbox event {event_pk_or_id!r}")
        if row.status not in REPLAYABLE and row.status != "pending":
            raise NotRetryable(f"outbox event {row.event_id} is {row.status}; not sent again")
        if row.status == "dead":
            row.attempts = 0
        before = row.status
        row.status, row.next_attempt_at = "pending", utcnow()
        record(db_session, tenant_id=row.tenant_id, actor=actor, action="outbox.retry",
               entity_type="outbox_event", entity_id=row.event_id, before={"status": before},
               after={"status": "pending"})  # fmt: skip
        db_session.flush()
        return row


def replay(
    session_factory: sessionmaker[Session], *, status: str = "dead", actor: str = "system"
) -> int:
    """Make every event of ``status`` (dead or failed) pending, attempts reset, due now; one
    audit event per tenant with the count."""
    if status not in REPLAYABLE:
        raise NotRetryable(f"only {' and '.join(sorted(REPLAYABLE))} events can be replayed")
    with write_transaction(session_factory) as db_session:
        counts = db_session.execute(
            select(OutboxEvent.tenant_id, func.count()).where(OutboxEvent.status == status)
            .group_by(OutboxEvent.tenant_id)
        ).all()  # fmt: skip
        for tenant_id, n in counts:
            record(db_session, tenant_id=tenant_id, actor=actor, action="outbox.replay",
                   entity_type="outbox", entity_id=status, after={"events": n})  # fmt: skip
        result = cast(
            CursorResult[Any],
            db_session.execute(
                update(OutboxEvent)
                .where(OutboxEvent.status == status)
                .values(status="pending", attempts=0, next_attempt_at=utcnow())
            ),
        )
        return int(result.rowcount)
