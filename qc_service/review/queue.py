"""The reviewers' appeal queue (UI.md ``/review``): appealed violations, overdue first.

Why its own query and not ``GET /v1/violations``: the queue is ordered by the appeal's deadline
(``QC_REVIEW_SLA_HOURS`` after its submission), which lives on the appeal, and pages with a keyset
on (submitted at, appeal id) so a page renders in the same time whatever the queue's length.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, func, select, tuple_
from sqlalchemy.orm import Session

from qc_service.conversations.models import Conversation
from qc_service.conversations.scope import conversation_clause
from qc_service.errors import QCError
from qc_service.identity.policy import Scope
from qc_service.review.models import Appeal, Violation
from qc_service.tenancy.models import Employee

PAGE = 50
STATUSES = ("appealed", "upheld", "overturned", "all")


@dataclass(slots=True)
class QueueFilter:
    """The queue's filters, named as the API's (UI.md): ``status`` defaults to ``appealed``."""

    status: str = "appealed"
    rule: str | None = None
    team: str | None = None
    agent: str | None = None
    since: datetime | None = None
    until: datetime | None = None


@dataclass(slots=True)
class QueueRow:
    violation_id: int
    rule_id: str
    severity: str
    agent: str
    agent_name: str | None
    team: str | None
    reason: str
    submitted_at: datetime
    deadline: datetime
    status: str


def _cursor(raw: str | None) -> tuple[datetime, int] | None:
    if not raw:
        return None
    try:
        ts, _, ident = raw.rpartition("_")
        return datetime.fromisoformat(ts), int(ident)
    except ValueError:
        raise QCError(f"cursor {raw[:40]!r} is not one this queue gave", field="cursor") from None


def _base(scope: Scope, f: QueueFilter) -> Select[Any]:
    if f.status not in STATUSES:
        raise QCError(f"status must be one of {', '.join(STATUSES)}", field="status")
    stmt = (
        select(Violation, Appeal, Employee)
        .join(Appeal, Appeal.violation_id == Violation.id)
        .join(Conversation, Violation.conversation_id == Conversation.id)
        .join(Employee, Conversation.employee_id == Employee.id)
        .where(Violation.tenant_id == scope.tenant_id, conversation_clause(scope))
    )
    if f.status != "all":
        stmt = stmt.where(Violation.status == f.status)
    for value, column in ((f.rule, Violation.rule_id), (f.team, Employee.team),
                          (f.agent, Employee.external_id)):  # fmt: skip
        if value:
            stmt = stmt.where(column == value)
    if f.since is not None:
        stmt = stmt.where(Appeal.created_at >= f.since)
    if f.until is not None:
        stmt = stmt.where(Appeal.created_at < f.until)
    return stmt


def pending_count(*, db_session: Session, scope: Scope) -> int:
    """Appeals waiting for a decision in the caller's scope (the review page's 待审申诉)."""
    stmt = _base(scope, QueueFilter()).with_only_columns(Appeal.id)
    return db_session.scalar(select(func.count()).select_from(stmt.subquery())) or 0


def appeal_queue(
    *, db_session: Session, scope: Scope, filters: QueueFilter, sla_hours: float,
    cursor: str | None = None, limit: int = PAGE,
) -> tuple[list[QueueRow], int, str | None]:  # fmt: skip
    """Rows (oldest submission first: the overdue ones lead), the total, the next cursor."""
    stmt = _base(scope, filters)
    total = db_session.scalar(
        select(func.count()).select_from(stmt.with_only_columns(Appeal.id).subquery())
    ) or 0  # fmt: skip
    after = _cursor(cursor)
    if after is not None:
        stmt = stmt.where(tuple_(Appeal.created_at, Appeal.id) > tuple_(*after))
    rows = db_session.execute(stmt.order_by(Appeal.created_at, Appeal.id).limit(limit + 1)).all()
    sla = timedelta(hours=sla_hours)
    out = [
        QueueRow(
            v.id,
            v.rule_id,
            v.severity,
            e.external_id,
            e.name,
            e.team,
            a.reason,
            a.created_at,
            a.created_at + sla,
            v.status,
        )  # fmt: skip
        for v, a, e in rows[:limit]
    ]
    nxt = None
    if len(rows) > limit:
        last = rows[limit - 1][1]
        nxt = f"{last.created_at.isoformat()}_{last.id}"
    return out, total, nxt


def neighbours(
    *, db_session: Session, scope: Scope, filters: QueueFilter, violation_id: int
) -> tuple[int | None, int | None]:
    """The previous and next violation in the same filtered queue (the review page's ← →)."""
    stmt = _base(scope, filters)
    here = db_session.execute(
        select(Appeal.created_at, Appeal.id).where(Appeal.violation_id == violation_id)
        .order_by(Appeal.id.desc()).limit(1)
    ).first()  # fmt: skip
    if here is None:
        return None, None
    key = tuple_(Appeal.created_at, Appeal.id)
    prev = db_session.scalars(
        stmt.with_only_columns(Violation.id).where(key < tuple_(*here))
        .order_by(Appeal.created_at.desc(), Appeal.id.desc()).limit(1)
    ).first()  # fmt: skip
    nxt = db_session.scalars(
        stmt.with_only_columns(Violation.id).where(key > tuple_(*here))
        .order_by(Appeal.created_at, Appeal.id).limit(1)
    ).first()  # fmt: skip
    return prev, nxt
