"""Writing and reading the audit trail.

Why a function instead of ``db_session.add(AuditEvent(...))`` everywhere: one signature names what
ACCESS.md asks of every event (actor, tenant, action, object, reason, summary of the change), and
the event joins the caller's transaction, so the act and its record commit or fail together.
"""

from __future__ import annotations

import getpass
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from qc_service.audit.chain import ChainReport, verify
from qc_service.audit.models import AuditEvent


def os_actor() -> str:
    """The actor of an operator's CLI command: ``cli:<OS user>``."""
    try:
        return f"cli:{getpass.getuser()}"
    except Exception:  # noqa: BLE001 - no passwd entry in some containers
        return "cli:unknown"


def record(
    db_session: Session,
    *,
    tenant_id: str,
    actor: str,
    action: str,
    entity_type: str,
    entity_id: str | int,
    reason: str | None = None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> AuditEvent:
    """Add one event to the caller's transaction (chained at flush)."""
    ev = AuditEvent(
        tenant_id=tenant_id, actor=actor, action=action, entity_type=entity_type,
        entity_id=str(entity_id), reason=reason, before=before, after=after,
    )  # fmt: skip
    db_session.add(ev)
    return ev


@dataclass(slots=True)
class AuditFilter:
    """``GET /v1/audit`` filters; None is "any"."""

    actor: str | None = None
    action: str | None = None
    entity_type: str | None = None
    entity_id: str | None = None
    since: datetime | None = None
    until: datetime | None = None


def list_events(
    db_session: Session, *, tenant_id: str, filters: AuditFilter, cursor: int | None, limit: int
) -> tuple[list[AuditEvent], int, int | None]:
    """The tenant's events, newest first, a page at a time (cursor = the last id seen)."""
    stmt = select(AuditEvent).where(AuditEvent.tenant_id == tenant_id)
    f = filters
    for column, value in ((AuditEvent.actor, f.actor), (AuditEvent.action, f.action),
                          (AuditEvent.entity_type, f.entity_type), (AuditEvent.entity_id, f.entity_id)):  # fmt: skip
        if value is not None:
            stmt = stmt.where(column == value)
    if f.since is not None:
        stmt = stmt.where(AuditEvent.created_at >= f.since)
    if f.until is not None:
        stmt = stmt.where(AuditEvent.created_at < f.until)
    total = db_session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    if cursor is not None:
        stmt = stmt.where(AuditEvent.id < cursor)
    rows = list(db_session.scalars(stmt.order_by(AuditEvent.id.desc()).limit(limit + 1)))
    nxt = rows[limit - 1].id if len(rows) > limit else None
    return rows[:limit], total, nxt


def _in_order(db_session: Session) -> Iterator[AuditEvent]:
    yield from db_session.scalars(
        select(AuditEvent).order_by(AuditEvent.id).execution_options(yield_per=1000)
    )


def verify_chain(db_session: Session) -> ChainReport:
    """Recompute the whole chain (``qc audit verify``)."""
    return verify(_in_order(db_session))
