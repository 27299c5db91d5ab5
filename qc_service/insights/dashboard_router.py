"""``/v1/dashboard/*``: the manager dashboard's figures as JSON, from the very functions that
render ``/dashboard`` (UI.md: one service function feeds the page and the API)."""

from __future__ import annotations

from dataclasses import asdict
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter
from pydantic import BaseModel

from qc_service.identity.policy import Op, Scope
from qc_service.insights import dashboard
from qc_service.insights.params import Agent, Channel, RuleQ, Since, Team, Until, dash_filter
from qc_service.web.deps import DbSession, StoreDep, require
from qc_service.web.masking import MaskingRoute

router = APIRouter(prefix="/v1/dashboard", tags=["dashboard"], route_class=MaskingRoute)
Read = Annotated[Scope, require(Op.DASHBOARDS_READ)]


class KpisOut(BaseModel):
    """The six KPI tiles for a filter, with the counts behind the two rates."""

    since: datetime
    until: datetime
    as_of: datetime
    conversations: int
    """质检会话数: conversations analysed in the period."""
    violations: int
    """违规数: violations found in the period, overturned ones not counted."""
    violating_conversations: int
    violation_rate: float | None
    """违规率: violating conversations ÷ conversations (null without conversations)."""
    appeals: int
    """申诉数: appeals submitted in the period."""
    decided: int
    overturned: int
    overturn_rate: float | None
    """撤销率: overturned ÷ decided, decisions made in the period."""
    overdue_appeals: int
    """超时申诉: appeals of the period still undecided past the review deadline."""


class RuleHealthOut(BaseModel):
    """One rule: hits, appeals, decisions, overturns (with reasons) and the 可能不合理 flag."""

    rule_id: str
    hits: int
    appeals: int
    decided: int
    overturned: int
    overturn_rate: float | None
    doubtful: bool
    reasons: dict[str, int]


@router.get("/kpis", response_model=KpisOut, summary="KPI tiles of the manager dashboard")
def kpis(
    db: DbSession, store: StoreDep, scope: Read, since: Since = None, until: Until = None,
    team: Team = None, agent: Agent = None, rule: RuleQ = None, channel: Channel = None,
) -> KpisOut:  # fmt: skip
    """The same six figures ``/dashboard`` shows for the same parameters (UI.md Definitions)."""
    s = store.settings
    f = dash_filter(scope, s.timezone, since, until, team, agent, rule, channel)
    now = datetime.now(UTC)
    k = dashboard.kpis(db, f, sla_hours=s.review_sla_hours, now=now)
    return KpisOut(since=f.since, until=f.until, as_of=now, **asdict(k))


@router.get("/rule-health", response_model=list[RuleHealthOut], summary="Rule health")
def rule_health(
    db: DbSession, store: StoreDep, scope: Read, since: Since = None, until: Until = None,
    team: Team = None, agent: Agent = None, rule: RuleQ = None, channel: Channel = None,
) -> list[RuleHealthOut]:  # fmt: skip
    """Per rule, most overturned first; ``doubtful`` is the dashboard's 可能不合理."""
    s = store.settings
    f = dash_filter(scope, s.timezone, since, until, team, agent, rule, channel)
    rows = dashboard.rule_health(db, f, threshold=s.rule_health_overturn,
                                 min_decisions=s.rule_health_min_decisions)  # fmt: skip
    return [RuleHealthOut(rule_id=r.rule_id, hits=r.hits, appeals=r.appeals, decided=r.decided,
                          overturned=r.overturned, overturn_rate=r.overturn_rate,
                          doubtful=r.doubtful, reasons=r.reasons) for r in rows]  # fmt: skip
