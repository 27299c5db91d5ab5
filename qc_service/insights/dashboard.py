"""The manager dashboard's figures (UI.md "Definitions"): KPI tiles, the daily trend by rule, rule
health, agents and reviewers — one function each, shared by ``/dashboard`` and ``/v1/dashboard/*``.

Why grouped in SQL: the page must answer in ≤ 500 ms over 100,000 violations (``bench/``), so
every figure is a ``COUNT … GROUP BY`` over indexed time columns, never rows loaded into Python
(the reviewers' medians are the one exception: they need the decisions themselves). Days are
the tenant's local days: a ``CASE`` over the day boundaries computed in Python, so it is exact
in every zone (DST included) on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, Select, case, func, select
from sqlalchemy.orm import Session

from qc_service.conversations.models import Conversation
from qc_service.conversations.scope import conversation_clause
from qc_service.errors import QCError
from qc_service.identity.policy import Access, Scope
from qc_service.review.models import Appeal, Violation
from qc_service.tenancy.models import Employee

DECIDED = ("upheld", "overturned")
MAX_DAYS = 366
"""The longest period one dashboard covers (one CASE branch per day)."""


@dataclass(frozen=True, slots=True)
class DashFilter:
    """The filter bar: ``[since, until)`` in UTC plus optional team, agent, rule and channel."""

    scope: Scope
    since: datetime
    until: datetime
    tz: str = "Asia/Shanghai"
    team: str | None = None
    agent: str | None = None
    rule: str | None = None
    channel: str | None = None

    def __post_init__(self) -> None:
        if self.until <= self.since:
            raise QCError("until must be after since", field="until")
        if (self.until - self.since).days > MAX_DAYS:
            raise QCError(f"a dashboard covers at most {MAX_DAYS} days", field="since")

    def days(self) -> list[date]:
        """The local days the period touches, first to last."""
        zone = ZoneInfo(self.tz)
        first = self.since.astimezone(zone).date()
        last = (self.until - timedelta(microseconds=1)).astimezone(zone).date()
        return [first + timedelta(days=i) for i in range((last - first).days + 1)]


def last_days(n: int, tz: str, today: date | None = None) -> tuple[datetime, datetime]:
    """The default period: the last ``n`` local days, today included."""
    zone = ZoneInfo(tz)
    today = today or datetime.now(zone).date()
    start = datetime.combine(today - timedelta(days=n - 1), datetime.min.time(), zone)
    return start, datetime.combine(today + timedelta(days=1), datetime.min.time(), zone)


def _people(f: DashFilter) -> list[ColumnElement[bool]]:
    """Conditions on the conversation and its agent: scope, team, agent, channel."""
    out = [conversation_clause(f.scope)]
    if f.team:
        out.append(Employee.team == f.team)
    if f.agent:
        out.append(Employee.external_id == f.agent)
    if f.channel:
        out.append(Conversation.channel == f.channel)
    return out


def _needs_people(f: DashFilter) -> bool:
    """Whether a violation query must join the conversation and its agent. Why: without a
    scope, team, agent or channel the joins only cost (each figure counts every violation of
    the period), and the tenant is on the violation itself."""
    return f.scope.access is not Access.ALL or bool(f.team or f.agent or f.channel)


def _violations(f: DashFilter, *cols: Any, at: Any = Violation.created_at,
                people: bool = False) -> Select[Any]:  # fmt: skip
    """``cols`` over the filter's violations whose ``at`` lies in the period (``people``: join
    the conversation and the agent even when no condition needs them, to group by them)."""
    stmt = (
        select(*cols)
        .select_from(Violation)
        .where(Violation.tenant_id == f.scope.tenant_id, at >= f.since, at < f.until)
    )
    if people or _needs_people(f):
        stmt = (
            stmt.join(Conversation, Violation.conversation_id == Conversation.id)
            .join(Employee, Conversation.employee_id == Employee.id)
            .where(*_people(f))
        )
    return stmt.where(Violation.rule_id == f.rule) if f.rule else stmt


def _appeals(f: DashFilter, *cols: Any, people: bool = False) -> Select[Any]:
    return _violations(f, *cols, at=Appeal.created_at, people=people).join(
        Appeal, Appeal.violation_id == Violation.id
    )


def _conversations(f: DashFilter, *cols: Any) -> Select[Any]:
    return (
        select(*cols)
        .select_from(Conversation)
        .join(Employee, Conversation.employee_id == Employee.id)
        .where(
            Conversation.tenant_id == f.scope.tenant_id,
            Conversation.analysed_at >= f.since,
            Conversation.analysed_at < f.until,
            *_people(f),
        )  # fmt: skip
    )


STANDING = Violation.status != "overturned"


def rate(part: int, whole: int) -> float | None:
    """``part / whole`` to 3 decimals, None without a denominator."""
    return round(part / whole, 3) if whole else None


@dataclass(slots=True)
class Kpis:
    """The six tiles (UI.md) and the counts behind the two rates."""

    conversations: int
    violations: int
    violating_conversations: int
    violation_rate: float | None
    appeals: int
    decided: int
    overturned: int
    overturn_rate: float | None
    overdue_appeals: int


def kpis(db: Session, f: DashFilter, *, sla_hours: float, now: datetime) -> Kpis:
    """质检会话数, 违规数 (standing), 违规率, 申诉数, 撤销率 (decisions in the period), 超时申诉
    (appeals of the period still undecided past the review deadline)."""
    conversations = db.scalar(_conversations(f, func.count(Conversation.id))) or 0
    found = db.execute(_violations(f, func.count(Violation.id),
                                   func.count(Violation.conversation_id.distinct()))
                       .where(STANDING)).one()  # fmt: skip
    appeals = db.scalar(_appeals(f, func.count(Appeal.id))) or 0
    overdue = db.scalar(_appeals(f, func.count(Appeal.id)).where(
        Violation.status == "appealed", Appeal.decision.is_(None),
        Appeal.created_at < now - timedelta(hours=sla_hours))) or 0  # fmt: skip
    by_status = dict(db.execute(
        _violations(f, Violation.status, func.count(), at=Violation.decided_at)
        .where(Violation.status.in_(DECIDED)).group_by(Violation.status)).all())  # fmt: skip
    decided = sum(by_status.values())
    overturned = by_status.get("overturned", 0)
    return Kpis(conversations, found[0], found[1], rate(found[1], conversations), appeals,
                decided, overturned, rate(overturned, decided), overdue)  # fmt: skip


@dataclass(slots=True)
class Trend:
    """Standing violations per local day and rule (zeros included)."""

    days: list[date]
    rules: list[str]
    counts: dict[tuple[date, str], int]

    def total(self, day: date) -> int:
        return sum(self.counts.get((day, r), 0) for r in self.rules)


def trend(db: Session, f: DashFilter) -> Trend:
    """The daily trend by rule, grouped in SQL by local day."""
    days = f.days()
    zone = ZoneInfo(f.tz)
    bounds = [datetime.combine(d + timedelta(days=1), datetime.min.time(), zone) for d in days]
    day_index = case(*((Violation.created_at < b, i) for i, b in enumerate(bounds)), else_=-1)
    rows = db.execute(_violations(f, day_index, Violation.rule_id, func.count())
                      .where(STANDING).group_by(day_index, Violation.rule_id)).all()  # fmt: skip
    counts = {(days[i], rule): n for i, rule, n in rows if 0 <= i < len(days)}
    return Trend(days, sorted({r for _, r in counts}), counts)


@dataclass(slots=True)
class RuleHealth:
    """One rule's row: hits, appeals, decisions and overturns, the reasons of the overturns."""

    rule_id: str
    hits: int = 0
    appeals: int = 0
    decided: int = 0
    overturned: int = 0
    reasons: dict[str, int] = field(default_factory=dict)
    doubtful: bool = False
    """可能不合理: overturn rate ≥ the threshold with at least the minimum decisions."""

    @property
    def overturn_rate(self) -> float | None:
        return rate(self.overturned, self.decided)


def rule_health(
    db: Session, f: DashFilter, *, threshold: float, min_decisions: int
) -> list[RuleHealth]:
    """Per rule (flagged first, then most overturned): hits and appeals of the period, decisions
    made in it."""
    rows: dict[str, RuleHealth] = {}

    def row(rule_id: str) -> RuleHealth:
        return rows.setdefault(rule_id, RuleHealth(rule_id))

    for rule_id, n in db.execute(_violations(f, Violation.rule_id, func.count())
                                 .group_by(Violation.rule_id)):  # fmt: skip
        row(rule_id).hits = n
    for rule_id, n in db.execute(_appeals(f, Violation.rule_id, func.count())
                                 .group_by(Violation.rule_id)):  # fmt: skip
        row(rule_id).appeals = n
    decided = _violations(f, Violation.rule_id, Violation.status, Violation.reason_code,
                          func.count(), at=Violation.decided_at)  # fmt: skip
    for rule_id, status, reason, n in db.execute(
        decided.where(Violation.status.in_(DECIDED)).group_by(
            Violation.rule_id, Violation.status, Violation.reason_code
        )
    ):
        r = row(rule_id)
        r.decided += n
        if status == "overturned":
            r.overturned += n
            key = reason or "unspecified"
            r.reasons[key] = r.reasons.get(key, 0) + n
    for r in rows.values():
        r.doubtful = r.decided >= min_decisions and (r.overturn_rate or 0) >= threshold
    return sorted(
        rows.values(), key=lambda r: (not r.doubtful, -(r.overturn_rate or 0), -r.hits, r.rule_id)
    )


@dataclass(slots=True)
class AgentRow:
    """One agent: conversations analysed, standing violations, appeals, overturns."""

    agent: str
    name: str
    team: str | None
    conversations: int = 0
    violations: int = 0
    violating_conversations: int = 0
    appeals: int = 0
    overturned: int = 0

    @property
    def violation_rate(self) -> float | None:
        """As the KPI: conversations with a standing violation ÷ conversations analysed."""
        return rate(self.violating_conversations, self.conversations)


def agents(db: Session, f: DashFilter) -> list[AgentRow]:
    """Per agent, most violations first."""
    out: dict[str, AgentRow] = {}
    who = (Employee.external_id, Employee.name, Employee.team)

    def row(ext: str, name: str | None, team: str | None) -> AgentRow:
        return out.setdefault(ext, AgentRow(ext, name or ext, team))

    for ext, name, team, n in db.execute(_conversations(f, *who, func.count()).group_by(*who)):
        row(ext, name, team).conversations = n
    for ext, name, team, n, convs in db.execute(
        _violations(f, *who, func.count(), func.count(Violation.conversation_id.distinct()), people=True)
        .where(STANDING).group_by(*who)
    ):  # fmt: skip
        r = row(ext, name, team)
        r.violations, r.violating_conversations = n, convs
    for ext, name, team, n in db.execute(
        _appeals(f, *who, func.count(), people=True).group_by(*who)
    ):
        row(ext, name, team).appeals = n
    for ext, name, team, n in db.execute(
        _violations(f, *who, func.count(), at=Violation.decided_at, people=True)
        .where(Violation.status == "overturned").group_by(*who)
    ):  # fmt: skip
        row(ext, name, team).overturned = n
    return sorted(out.values(), key=lambda r: (-r.violations, r.agent))


@dataclass(slots=True)
class ReviewerRow:
    """One reviewer: decisions in the period, median hours to decide, share overturned."""

    reviewer: str
    decisions: int
    overturned: int
    median_hours: float | None

    @property
    def overturn_share(self) -> float | None:
        return rate(self.overturned, self.decisions)


def reviewers(db: Session, f: DashFilter) -> list[ReviewerRow]:
    """Time to decide runs from the appeal (or, for an unappealed finding, from the finding)."""
    appealed_at = (
        select(func.max(Appeal.created_at)).where(Appeal.violation_id == Violation.id)
        .scalar_subquery()
    )  # fmt: skip
    rows = db.execute(
        _violations(f, Violation.decided_by, Violation.status, Violation.decided_at,
                    Violation.created_at, appealed_at, at=Violation.decided_at)
        .where(Violation.status.in_(DECIDED))
    ).all()  # fmt: skip
    hours: dict[str, list[float]] = defaultdict(list)
    overturned: dict[str, int] = defaultdict(int)
    for by, status, decided_at, created_at, appeal_at, *_ in rows:
        start = appeal_at or created_at
        hours[by or ""].append(max(0.0, (decided_at - start).total_seconds() / 3600))
        overturned[by or ""] += status == "overturned"
    return sorted(
        (ReviewerRow(by, len(h), overturned[by], round(statistics.median(h), 1))
         for by, h in hours.items()),
        key=lambda r: (-r.decisions, r.reviewer),
    )  # fmt: skip
