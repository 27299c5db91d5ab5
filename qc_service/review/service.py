"""Read side of findings: violations with their evidence, counts by rule and by agent, scores.

Why a service: the API, ``qc demo`` and managers' reports ask the same questions; one place
answers them (the violation lifecycle itself will live in this module's flows).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from qc_service.conversations.models import Conversation
from qc_service.review.models import Score, Violation
from qc_service.tagging.models import CustomerTag
from qc_service.tenancy.models import Employee


@dataclass(slots=True)
class Summary:
    """What a manager sees first."""

    conversations: int
    analysed: int
    failed: int
    violations_by_rule: list[tuple[str, int]]
    violations_by_agent: list[tuple[str, str, int]]
    scores: dict[str, Any]
    tags: list[tuple[str, int]]


def summary(*, db_session: Session, tenant_id: str) -> Summary:
    """Counts over the tenant's whole store."""
    by_status = dict(
        db_session.execute(
            select(Conversation.status, func.count())
            .where(Conversation.tenant_id == tenant_id)
            .group_by(Conversation.status)
        ).all()
    )
    by_rule = db_session.execute(
        select(Violation.rule_id, func.count()).where(Violation.tenant_id == tenant_id)
        .group_by(Violation.rule_id).order_by(func.count().desc())
    ).all()  # fmt: skip
    by_agent = db_session.execute(
        select(Employee.external_id, Employee.name, func.count())
        .select_from(Violation).join(Conversation, Violation.conversation_id == Conversation.id)
        .join(Employee, Conversation.employee_id == Employee.id)
        .where(Violation.tenant_id == tenant_id)
        .group_by(Employee.external_id, Employee.name).order_by(func.count().desc())
    ).all()  # fmt: skip
    scores = db_session.execute(
        select(Score.score, Score.passed).join(Conversation, Score.conversation_id == Conversation.id)
        .where(Conversation.tenant_id == tenant_id)
    ).all()  # fmt: skip
    values = [s for s, _ in scores]
    tags = db_session.execute(
        select(CustomerTag.tag, func.count()).where(CustomerTag.tenant_id == tenant_id, CustomerTag.removed_at.is_(None))
        .group_by(CustomerTag.tag).order_by(func.count().desc())
    ).all()  # fmt: skip
    return Summary(
        conversations=sum(by_status.values()),
        analysed=by_status.get("analysed", 0),
        failed=by_status.get("failed", 0),
        violations_by_rule=[(r, n) for r, n in by_rule],
        violations_by_agent=[(e, name or e, n) for e, name, n in by_agent],
        scores={
            "scored": len(values),
            "passed": sum(1 for _, p in scores if p),
            "mean": round(sum(values) / len(values), 1) if values else None,
            "distribution": dict(sorted(Counter((v // 20) * 20 for v in values).items())),
        },
        tags=[(t, n) for t, n in tags],
    )


def recent_violations(
    *, db_session: Session, tenant_id: str, limit: int = 5, rule_ids: list[str] | None = None
) -> list[Violation]:
    """Violations with evidence and conversation messages loaded, one per rule where possible."""
    stmt = (
        select(Violation).where(Violation.tenant_id == tenant_id)
        .options(selectinload(Violation.evidence), selectinload(Violation.conversation).selectinload(Conversation.messages))
        .order_by(Violation.id)
    )  # fmt: skip
    if rule_ids:
        stmt = stmt.where(Violation.rule_id.in_(rule_ids))
    out: list[Violation] = []
    seen: set[str] = set()
    rows = db_session.scalars(stmt).all()
    for v in rows:
        if v.rule_id not in seen:
            out.append(v)
            seen.add(v.rule_id)
    for v in rows:
        if len(out) >= limit:
            break
        if v not in out:
            out.append(v)
    return out[:limit]
