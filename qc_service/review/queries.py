"""Read side for reviewers and managers: violation pages, a violation with its context, scores.

Why separate from ``flows``: reads never change state; the lifecycle lives in ``flows`` alone.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Select, exists, func, select
from sqlalchemy.orm import Session, selectinload

from qc_service.audit.models import AuditEvent
from qc_service.conversations.models import Conversation
from qc_service.conversations.scope import conversation_clause
from qc_service.customers.models import Customer
from qc_service.errors import NotFound, QCError
from qc_service.identity.policy import Scope
from qc_service.review.enums import PENDING
from qc_service.review.models import Appeal, Score, Violation
from qc_service.rules.backtest import wilson_interval
from qc_service.tenancy.models import Employee

CONTEXT_MESSAGES = 2
"""Messages shown before and after an evidence message."""


@dataclass(slots=True)
class ViolationFilter:
    """The filters of GET /v1/violations (all optional)."""

    status: str | None = None
    rule: str | None = None
    severity: str | None = None
    agent: str | None = None
    team: str | None = None
    customer: str | None = None
    conversation: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    scope: Scope | None = None
    """The caller's scope (ACCESS.md), applied in the query; None: the whole tenant (system)."""
    channel: str | None = None
    dated: str = "created"
    """Which time ``since``/``until`` bound: ``created`` (found), ``decided`` (the dashboard's
    撤销率 counts decisions made in the period) or ``appealed`` (an appeal submitted then)."""
    overdue_before: datetime | None = None
    """Only violations whose appeal, submitted before this, is still undecided (超时申诉)."""


DATED = {
    "created": Violation.created_at,
    "decided": Violation.decided_at,
    "appealed": Appeal.created_at,
}


def _filtered(tenant_id: str, f: ViolationFilter) -> Select[Any]:
    stmt = (
        select(Violation, Conversation, Employee, Customer)
        .join(Conversation, Violation.conversation_id == Conversation.id)
        .join(Employee, Conversation.employee_id == Employee.id)
        .join(Customer, Conversation.customer_id == Customer.id)
        .where(Violation.tenant_id == tenant_id)
    )
    conditions = {
        "status": Violation.status, "rule": Violation.rule_id, "severity": Violation.severity,
        "agent": Employee.external_id, "team": Employee.team, "customer": Customer.external_id,
        "conversation": Conversation.external_id,
    }  # fmt: skip
    for name, column in conditions.items():
        value = getattr(f, name)
        if value is not None:
            # ``status=open,appealed,upheld``: any of them (the dashboard's standing violations)
            stmt = stmt.where(column.in_(value.split(",")) if name == "status" else column == value)
    if f.channel is not None:
        stmt = stmt.where(Conversation.channel == f.channel)
    if f.dated not in DATED:
        raise QCError(f"dated must be one of {', '.join(DATED)}", field="dated")
    at = DATED[f.dated]
    bounds = [c for c in (f.since is not None and at >= f.since,
                          f.until is not None and at < f.until) if c is not False]  # fmt: skip
    if f.overdue_before is not None:
        bounds += [Appeal.created_at < f.overdue_before, Appeal.decision.is_(None),
                   Violation.status == "appealed"]  # fmt: skip
    if f.dated == "appealed" or f.overdue_before is not None:
        stmt = stmt.where(exists().where(Appeal.violation_id == Violation.id, *bounds))
    else:
        stmt = stmt.where(*bounds)
    if f.scope is not None:
        stmt = stmt.where(conversation_clause(f.scope))
    return stmt


def list_violations(
    *, db_session: Session, tenant_id: str, filters: ViolationFilter, cursor: int | None, limit: int
) -> tuple[list[tuple[Violation, Conversation, Employee, Customer]], int, int | None]:
    """Newest first; returns rows, the total matching, and the cursor of the next page."""
    stmt = _filtered(tenant_id, filters)
    total = (
        db_session.scalar(
            select(func.count()).select_from(stmt.with_only_columns(Violation.id).subquery())
        )
        or 0
    )
    if cursor is not None:
        stmt = stmt.where(Violation.id < cursor)
    rows = [
        tuple(r)
        for r in db_session.execute(stmt.order_by(Violation.id.desc()).limit(limit + 1)).all()
    ]
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, total, (rows[-1][0].id if more and rows else None)  # type: ignore[return-value]


def list_violations_ranked(
    *,
    db_session: Session,
    tenant_id: str,
    filters: ViolationFilter,
    cursor: int | None,
    limit: int,
    risk: Callable[[Sequence[int]], dict[int, float]],
) -> tuple[
    list[tuple[Violation, Conversation, Employee, Customer]], int, int | None, dict[int, float]
]:
    """Open and appealed violations by ``risk`` (highest first, then newest), then the decided
    ones newest first. ``cursor`` is an offset here: the ranking is recomputed on every page, so a
    decision or a retrained model between pages may move items across the page boundary."""
    stmt = _filtered(tenant_id, filters)
    pairs = db_session.execute(stmt.with_only_columns(Violation.id, Violation.status)).all()
    pending = [vid for vid, status in pairs if status in PENDING]
    risks = risk(pending)
    ranked = sorted(pending, key=lambda vid: (-risks.get(vid, 0.0), -vid))
    ranked += sorted((vid for vid, status in pairs if status not in PENDING), reverse=True)
    offset = cursor or 0
    page = ranked[offset : offset + limit]
    by_id = {
        row[0].id: tuple(row)
        for row in db_session.execute(stmt.where(Violation.id.in_(page))).all()
    }
    rows = [by_id[vid] for vid in page]
    nxt = offset + limit if offset + limit < len(ranked) else None
    return rows, len(ranked), nxt, {vid: risks[vid] for vid in page if vid in risks}


def rule_precision(
    *, db_session: Session, tenant_id: str, filters: ViolationFilter
) -> list[dict[str, Any]]:
    """Live precision of each rule from what reviewers and the appeal window said.

    ``reviewed`` counts reviewer decisions only: upheld is a true positive, overturned a false
    one. ``with_confirmed`` also counts ``confirmed`` (the appeal window closed unappealed, or a
    spot check) as correct: more data, but an unappealed finding was not necessarily right, so it
    leans optimistic. Both carry a Wilson 95 % interval (``estimate``, ``low``, ``high``,
    ``judged``), or are null when nothing was judged.
    """
    stmt = (
        _filtered(tenant_id, filters)
        .with_only_columns(Violation.rule_id, Violation.status, func.count())
        .group_by(Violation.rule_id, Violation.status)
    )
    counts: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for rule_id, status, n in db_session.execute(stmt).all():
        counts[rule_id][status] += n
    out = []
    for rule_id in sorted(counts):
        c = counts[rule_id]
        upheld, overturned, confirmed = c["upheld"], c["overturned"], c["confirmed"]
        out.append({
            "rule_id": rule_id, "findings": sum(c.values()), "open": c["open"], "appealed": c["appealed"],
            "upheld": upheld, "overturned": overturned, "confirmed": confirmed,
            "reviewed": _estimate(upheld, upheld + overturned),
            "with_confirmed": _estimate(upheld + confirmed, upheld + overturned + confirmed),
        })  # fmt: skip
    return out


def _estimate(correct: int, judged: int) -> dict[str, Any] | None:
    interval = wilson_interval(correct, judged)
    if interval is None:
        return None
    return {"estimate": round(correct / judged, 3), "low": round(interval[0], 3),
            "high": round(interval[1], 3), "judged": judged}  # fmt: skip


def context_range(index: int, n_messages: int) -> range:
    """Positions of the messages shown around an evidence message (``CONTEXT_MESSAGES`` each side)."""
    return range(max(0, index - CONTEXT_MESSAGES), min(n_messages, index + CONTEXT_MESSAGES + 1))


def evidence_with_context(violation: Violation, conv: Conversation) -> list[dict[str, Any]]:
    """Each evidence item with the messages around it."""
    position = {m.external_id: i for i, m in enumerate(conv.messages)}
    out = []
    for ev in violation.evidence:
        item = ev.to_dict()
        index = position.get(ev.message_external_id or "")
        if index is not None:
            window = context_range(index, len(conv.messages))
            item["context"] = [
                {
                    "id": m.external_id,
                    "seq": m.seq,
                    "role": m.role,
                    "type": m.type,
                    "text": m.text,
                    "ts": m.ts,
                }
                for m in conv.messages[window.start : window.stop]
            ]
        out.append(item)
    return out


def history(*, db_session: Session, violation: Violation) -> list[AuditEvent]:
    """The violation's audit trail, oldest first."""
    return list(
        db_session.scalars(
            select(AuditEvent)
            .where(AuditEvent.entity_type == "violation", AuditEvent.entity_id == str(violation.id))
            .order_by(AuditEvent.id)
        )
    )


def _violation(violation_id: int, scope: Scope) -> Select[tuple[Violation]]:
    """One violation by id, within ``scope`` (its tenant included)."""
    return (
        select(Violation)
        .join(Conversation, Violation.conversation_id == Conversation.id)
        .where(Violation.id == violation_id, conversation_clause(scope))
    )


def load_for_detail(*, db_session: Session, violation_id: int, scope: Scope) -> Violation | None:
    """A violation with evidence, appeals and its conversation's messages loaded; None when it
    does not exist or lies outside ``scope``."""
    return db_session.scalars(
        _violation(violation_id, scope).options(
            selectinload(Violation.evidence),
            selectinload(Violation.appeals),
            selectinload(Violation.conversation).selectinload(Conversation.messages),
        )
    ).one_or_none()


def visible_violation(
    *, db_session: Session, scope: Scope, violation_id: int, lock: bool = False
) -> Violation:
    """A violation the scope may see, or NotFound (outside the scope looks like absent).

    ``lock``: hold the row (``FOR UPDATE`` on PostgreSQL; SQLite's write transaction already holds
    the database) so two reviewers deciding at once are serialised and the second sees the first's
    decision."""
    stmt = _violation(violation_id, scope)
    if lock:
        stmt = stmt.with_for_update(of=Violation)
    violation = db_session.scalars(stmt).one_or_none()
    if violation is None:
        raise NotFound(f"violation {violation_id} not found")
    return violation


def score_groups(
    *,
    db_session: Session,
    tenant_id: str,
    group_by: str,
    tz: str,
    since: datetime | None,
    until: datetime | None,
    scope: Scope | None = None,
) -> list[dict[str, Any]]:
    """Scores (count, mean, pass rate) and violation counts by agent, team or day (tenant's zone)."""
    stmt = (
        select(Score, Conversation, Employee)
        .join(Conversation, Score.conversation_id == Conversation.id)
        .join(Employee, Conversation.employee_id == Employee.id)
        .where(Conversation.tenant_id == tenant_id)
    )
    if scope is not None:
        stmt = stmt.where(conversation_clause(scope))
    if since is not None:
        stmt = stmt.where(Conversation.created_at >= since)
    if until is not None:
        stmt = stmt.where(Conversation.created_at < until)
    counts = dict(
        db_session.execute(
            select(Violation.conversation_id, func.count())
            .where(Violation.tenant_id == tenant_id, Violation.status != "overturned")
            .group_by(Violation.conversation_id)
        ).all()
    )
    zone = ZoneInfo(tz)
    groups: dict[str, list[tuple[Score, int]]] = defaultdict(list)
    for score, conv, emp in db_session.execute(stmt).all():
        if group_by == "agent":
            key = emp.external_id
        elif group_by == "team":
            key = emp.team or "(no team)"
        else:
            when = conv.started_at or conv.created_at
            key = when.astimezone(zone).date().isoformat()
        groups[key].append((score, counts.get(conv.id, 0)))
    out = []
    for key in sorted(groups):
        items = groups[key]
        passed = sum(1 for s, _ in items if s.passed)
        out.append({
            "key": key, "conversations": len(items),
            "mean_score": round(sum(s.score for s, _ in items) / len(items), 1),
            "passed": passed, "pass_rate": round(passed / len(items), 3), "violations": sum(n for _, n in items),
        })  # fmt: skip
    return out


def violation_counts(
    *,
    db_session: Session,
    tenant_id: str,
    group_by: str,
    tz: str,
    since: datetime | None,
    until: datetime | None,
    scope: Scope | None = None,
) -> list[dict[str, Any]]:
    """Standing violations (not overturned) by rule, team, agent or day (tenant's zone), with status counts."""
    f = ViolationFilter(since=since, until=until, scope=scope)
    groups: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    zone = ZoneInfo(tz)
    for violation, conv, emp, _customer in db_session.execute(_filtered(tenant_id, f)).all():
        if violation.status == "overturned":
            key_status = "overturned"
        else:
            key_status = violation.status
        if group_by == "rule":
            key = violation.rule_id
        elif group_by == "team":
            key = emp.team or "(no team)"
        elif group_by == "agent":
            key = emp.external_id
        else:
            key = (conv.started_at or conv.created_at).astimezone(zone).date().isoformat()
        groups[key][key_status] += 1
    out = []
    for key in sorted(groups):
        by_status = dict(groups[key])
        standing = sum(n for st, n in by_status.items() if st != "overturned")
        judged = by_status.get("upheld", 0) + by_status.get("overturned", 0)
        out.append({"key": key, "violations": standing, "by_status": by_status,
                    "overturn_rate": round(by_status.get("overturned", 0) / judged, 3) if judged else None})  # fmt: skip
    return out
