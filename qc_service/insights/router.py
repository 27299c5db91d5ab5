"""``GET /v1/insights/keywords``: hot words per team for managers.

Each team's messages (one role, default the customer's) in the period are one TF-IDF document
(:func:`qc_service.nlp.keywords.hot_words`); the tokenizer's domain dictionary is every word of
the tenant's active rule-set lexicons, so a phrase the rules watch (稳赚不赔) counts as one word.
A message's time is its ``ts``, or when it was stored if the record gave none. Employees without
a team are grouped under ``""``.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from qc_service.conversations.models import Conversation, Message
from qc_service.conversations.scope import conversation_clause
from qc_service.identity.policy import Op, Scope
from qc_service.nlp.keywords import hot_words
from qc_service.nlp.tokenizer import get_tokenizer
from qc_service.rulesets.service import active_ruleset
from qc_service.tenancy.models import Employee
from qc_service.web.deps import DbSession as DbDep
from qc_service.web.deps import require
from qc_service.web.masking import MaskingRoute

router = APIRouter(tags=["insights"], route_class=MaskingRoute)


class Keyword(BaseModel):
    """A hot word and its TF-IDF score in the team (0 … 1)."""

    word: str
    score: float


class TeamKeywords(BaseModel):
    """A team's hot words, best first."""

    team: str
    keywords: list[Keyword]


class KeywordPage(BaseModel):
    """Hot words of every team (or the one asked for); one page, ``next`` is always null."""

    items: list[TeamKeywords]
    total: int
    next: str | None = None


def domain_words(*, db_session: Session, tenant_id: str) -> frozenset[str]:
    """Every word of the tenant's active rule-set lexicons."""
    ruleset = active_ruleset(db_session=db_session, tenant_id=tenant_id)
    words: set[str] = set()
    for rule in ruleset.rules:
        for leaf in rule.leaves:
            words.update(str(w) for w in leaf.params.get("resolved_words", []) or [])
    return frozenset(words)


def messages_by_team(
    *,
    db_session: Session,
    tenant_id: str,
    role: str | None,
    team: str | None,
    since: datetime | None,
    until: datetime | None,
    scope: Scope | None = None,
) -> dict[str, list[str]]:
    """Texts of the tenant's messages (within ``scope``) grouped by the employee's team."""
    at = func.coalesce(Message.ts, Message.created_at)
    stmt = (
        select(Employee.team, Message.text)
        .join(Conversation, Message.conversation_id == Conversation.id)
        .join(Employee, Conversation.employee_id == Employee.id)
        .where(Conversation.tenant_id == tenant_id, Message.text != "")
    )
    if scope is not None:
        stmt = stmt.where(conversation_clause(scope))
    if role:
        stmt = stmt.where(Message.role == role)
    if team is not None:
        stmt = stmt.where(Employee.team == team)
    if since is not None:
        stmt = stmt.where(at >= since)
    if until is not None:
        stmt = stmt.where(at < until)
    out: dict[str, list[str]] = defaultdict(list)
    for team_name, text in db_session.execute(stmt):
        out[team_name or ""].append(text)
    return dict(out)


@router.get("/v1/insights/keywords", response_model=KeywordPage, summary="Hot words per team")
def keywords(
    db: DbDep,
    scope: Annotated[Scope, require(Op.DASHBOARDS_READ)],
    team: Annotated[str | None, Query(description="only this team")] = None,
    role: Annotated[
        str, Query(description="whose messages: customer, agent, or empty for all")
    ] = "customer",
    since: Annotated[datetime | None, Query(description="messages at or after")] = None,
    until: Annotated[datetime | None, Query(description="messages before")] = None,
    top: Annotated[int, Query(ge=1, le=200, description="words per team")] = 20,
) -> KeywordPage:
    """TF-IDF keywords of each team's messages in the period (teams sorted by name)."""
    tenant = scope.tenant_id
    docs = messages_by_team(db_session=db, tenant_id=tenant, role=role or None, team=team,
                            since=since, until=until, scope=scope)  # fmt: skip
    tokenizer = get_tokenizer(domain_words(db_session=db, tenant_id=tenant))
    ranked = hot_words(docs, tokenizer, top_k=top)
    items = [
        TeamKeywords(team=name, keywords=[Keyword(word=w, score=s) for w, s in ranked[name]])
        for name in sorted(ranked)
    ]
    return KeywordPage(items=items, total=len(items), next=None)
