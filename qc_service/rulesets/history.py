"""Rules over stored history: backtest a draft (writes nothing) and re-analyse with published rules.

Why streamed: history can be large; conversations are loaded in pages and handed to the pure
backtest core one at a time, with a progress callback and interruption.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, selectinload, sessionmaker

from qc_service.conversations.models import Conversation
from qc_service.conversations.service import to_rule_conversation
from qc_service.review.models import Violation
from qc_service.rules import model as rm
from qc_service.rules.backtest import BacktestReport, backtest
from qc_service.rules.compiled import RuleSet
from qc_service.rulesets.service import active_ruleset

PAGE = 200


def _since_clause(tenant_id: str, since: datetime | None):  # type: ignore[no-untyped-def]
    clause = Conversation.tenant_id == tenant_id
    if since is not None:
        clause = clause & (Conversation.created_at >= since)
    return clause


def count_history(*, db_session: Session, tenant_id: str, since: datetime | None) -> int:
    """How many conversations a history run will look at."""
    return (
        db_session.scalar(
            select(func.count()).select_from(Conversation).where(_since_clause(tenant_id, since))
        )
        or 0
    )


def iter_history(
    factory: sessionmaker[Session], tenant_id: str, since: datetime | None
) -> Iterator[rm.Conversation]:
    """Stored conversations as the rule engine sees them, oldest first, a page at a time."""
    last = 0
    while True:
        with factory() as db_session:
            rows = db_session.scalars(
                select(Conversation)
                .where(_since_clause(tenant_id, since), Conversation.id > last)
                .options(
                    selectinload(Conversation.messages),
                    selectinload(Conversation.employee),
                    selectinload(Conversation.customer),
                )  # fmt: skip
                .order_by(Conversation.id)
                .limit(PAGE)
            ).all()
            if not rows:
                return
            last = rows[-1].id
            page = [to_rule_conversation(c) for c in rows]
        yield from page


def verdicts(*, db_session: Session, tenant_id: str) -> dict[tuple[str, str], str]:
    """Reviewers' judgements of live findings: (conversation id, rule id) → upheld | overturned."""
    rows = db_session.execute(
        select(Conversation.external_id, Violation.rule_id, Violation.status)
        .join(Conversation, Violation.conversation_id == Conversation.id)
        .where(Violation.tenant_id == tenant_id, Violation.status.in_(("upheld", "overturned")))
    ).all()
    return {(c, r): s for c, r, s in rows}


def run_backtest(
    factory: sessionmaker[Session],
    *,
    tenant_id: str,
    draft: RuleSet,
    rule_ids: set[str] | None,
    since: datetime | None,
    progress: Callable[[int], None] | None = None,
) -> BacktestReport:
    """Backtest a draft against the live rules over stored history; writes nothing."""
    with factory() as db_session:
        live = active_ruleset(db_session=db_session, tenant_id=tenant_id)
        judged = verdicts(db_session=db_session, tenant_id=tenant_id)
    return backtest(
        draft,
        live,
        iter_history(factory, tenant_id, since),
        judged,
        rule_ids=rule_ids,
        progress=progress,
    )


def mark_for_reanalysis(
    *, db_session: Session, tenant_id: str, since: datetime | None
) -> list[int]:
    """Mark stored conversations pending so the published rules run over them again (decided
    violations are never touched by re-analysis)."""
    ids = list(
        db_session.scalars(
            select(Conversation.id).where(_since_clause(tenant_id, since)).order_by(Conversation.id)
        )
    )
    if ids:
        db_session.execute(
            update(Conversation)
            .where(Conversation.id.in_(ids))
            .values(status="pending", revision=Conversation.revision + 1)
        )
    return ids
