"""The manager dashboard's figures (UI.md "Definitions"): KPI tiles, the daily trend by rule, rule
health, agents and reviewers — one function each, shared by ``/dashboard`` and ``/v1/dashboard/*``.

Why it is built this way: the page must answer in ≤ 500 ms p95 over 100,000 violations in 90
days (``bench/dashboard.py``). Every figure is a ``COUNT … GROUP BY`` over one table's covering
index (migration 0009): violations carry their agent and channel, so no count joins the
conversations, and the few grouped scans the page needs (by agent; by local day and rule; by
rule and agent for appeals and decisions) run once per request and feed every table
(``_memo``). The reviewers' medians are the one figure read row by row. Days are the tenant's
local days (``localday``), exact across DST changes on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, Select, case, event, func, select
from sqlalchemy.orm import Session

from qc_service.conversations.models import Conversation
from qc_service.conversations.scope import agent_clause
from qc_service.errors import QCError
from qc_service.identity.policy import Scope
from qc_service.insights.localday import local_day
from qc_service.review.models import Appeal, Violation
from qc_service.tenancy.models import Employee

DECIDED = ("upheld", "overturned")
MAX_DAYS = 366
"""The longest period one dashboard covers."""


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


def _who(
    f: DashFilter, employee: Any, channel: Any, conversation: Any
) -> list[ColumnElement[bool]]:
    """The scope, team, agent and channel as conditions on a table that carries its agent and
    channel (violations copy both from their conversation): no join per counted row."""
    tenant_employees = select(Employee.id).where(Employee.tenant_id == f.scope.tenant_id)
    out = [agent_clause(f.scope, employee, conversation)]
    if f.team:
        out.append(employee.in_(tenant_employees.where(Employee.team == f.team)))
    if f.agent:
        out.append(employee.in_(tenant_employees.where(Employee.external_id == f.agent)))
    if f.channel:
        out.append(channel == f.channel)
    return out


def _violations(f: DashFilter, *cols: Any, at: Any = Violation.created_at) -> Select[Any]:
    """``cols`` over the filter's violations whose ``at`` lies in the period."""
    stmt = (
        select(*cols)
        .select_from(Violation)
        .where(Violation.tenant_id == f.scope.tenant_id, at >= f.since, at < f.until,
               *_who(f, Violation.employee_id, Violation.channel, Violation.conversation_id))
    )  # fmt: skip
    return stmt.where(Violation.rule_id == f.rule) if f.rule else stmt


def _appeals(f: DashFilter, *cols: Any) -> Select[Any]:
    return _violations(f, *cols, at=Appeal.created_at).join(
        Appeal, Appeal.violation_id == Violation.id
    )


def _conversations(f: DashFilter, *cols: Any) -> Select[Any]:
    return (
        select(*cols)
        .select_from(Conversation)
        .where(
            Conversation.tenant_id == f.scope.tenant_id,
            Conversation.analysed_at >= f.since,
            Conversation.analysed_at < f.until,
            *_who(f, Conversation.employee_id, Conversation.channel, Conversation.id),
        )  # fmt: skip
    )


STANDING = Violation.status != "overturned"


MEMO_KEY = "dashboard.counts"


@event.listens_for(Session, "after_flush")
@event.listens_for(Session, "after_commit")
@event.listens_for(Session, "after_rollback")
def _forget(session: Session, *_: Any) -> None:
    """A session that writes after reading the dashboard reads fresh counts next time."""
    session.info.pop(MEMO_KEY, None)


def _memo(
    db: Session, key: tuple[Any, ...], compute: Callable[[], dict[Any, Any]]
) -> dict[Any, Any]:
    """``compute()`` once per session and key. Why: the page asks the KPIs, rule health and the
    agents' table for the same period, and each reads the same grouped counts; a session lives
    for one request, so the counts are as fresh as the page."""
    cache: dict[tuple[Any, ...], dict[Any, Any]] = db.info.setdefault(MEMO_KEY, {})
    if key not in cache:
        cache[key] = compute()
    return cache[key]


def _appeal_counts(db: Session, f: DashFilter) -> dict[tuple[str, int | None], int]:
    """Appeals submitted in the period by (rule, agent)."""
    cols = (Violation.rule_id, Violation.employee_id)
    return _memo(db, ("appeals", f), lambda: {
        (rule, emp): n for rule, emp, n in db.execute(_appeals(f, *cols, func.count()).group_by(*cols))
    })  # fmt: skip


def _standing_counts(db: Session, f: DashFilter) -> dict[int | None, tuple[int, int]]:
    """Standing violations found in the period by agent: (violations, conversations). Summing
    the conversations over agents is exact: a conversation has one agent."""
    return _memo(db, ("standing", f), lambda: {
        emp: (n, convs) for emp, n, convs in db.execute(
            _violations(f, Violation.employee_id, func.count(), func.count(Violation.conversation_id.distinct()))
            .where(STANDING).group_by(Violation.employee_id))
    })  # fmt: skip


def _conversation_counts(db: Session, f: DashFilter) -> dict[int | None, int]:
    """Conversations analysed in the period by agent (the KPI is their sum)."""
    cols = (Conversation.employee_id, func.count())
    return _memo(db, ("conversations", f), lambda: dict(
        db.execute(_conversations(f, *cols).group_by(Conversation.employee_id)).all()
    ))  # fmt: skip


def _found_counts(db: Session, f: DashFilter) -> dict[tuple[str, str], tuple[int, int]]:
    """Violations found in the period by (local day, rule): (all, standing). One scan feeds the
    trend (standing) and the rule health's hits (all)."""
    day = local_day(db, Violation.created_at, f.tz, f.since, f.until)
    standing = func.sum(case((STANDING, 1), else_=0))
    return _memo(db, ("found", f), lambda: {
        (d, rule): (n, int(kept or 0)) for d, rule, n, kept in db.execute(
            _violations(f, day, Violation.rule_id, func.count(), standing).group_by(day, Violation.rule_id))
    })  # fmt: skip


def _decided_counts(
    db: Session, f: DashFilter
) -> dict[tuple[str, int | None, str, str | None], int]:
    """Decisions (upheld, overturned) made in the period by (rule, agent, status, reason)."""
    cols = (Violation.rule_id, Violation.employee_id, Violation.status, Violation.reason_code)
    return _memo(db, ("decided", f), lambda: {
        (rule, emp, status, reason): n for rule, emp, status, reason, n in db.execute(
            _violations(f, *cols, func.count(), at=Violation.decided_at)
            .where(Violation.status.in_(DECIDED)).group_by(*cols))
    })  # fmt: skip


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
    conversations = sum(_conversation_counts(db, f).values())
    standing = _standing_counts(db, f).values()
    found = (sum(n for n, _ in standing), sum(c for _, c in standing))
    appeals = sum(_appeal_counts(db, f).values())
    overdue = db.scalar(_appeals(f, func.count(Appeal.id)).where(
        Violation.status == "appealed", Appeal.decision.is_(None),
        Appeal.created_at < now - timedelta(hours=sla_hours))) or 0  # fmt: skip
    decisions = _decided_counts(db, f)
    decided = sum(decisions.values())
    overturned = sum(n for (_, _, status, _), n in decisions.items() if status == "overturned")
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
    wanted = {d.isoformat(): d for d in days}
    counts = {(wanted[d], rule): kept for (d, rule), (_, kept) in _found_counts(db, f).items()
              if d in wanted and kept}  # fmt: skip
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

    for (_, rule_id), (n, _) in _found_counts(db, f).items():
        row(rule_id).hits += n
    for (rule_id, _), n in _appeal_counts(db, f).items():
        row(rule_id).appeals += n
    for (rule_id, _, status, reason), n in _decided_counts(db, f).items():
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
    counts: dict[int | None, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for employee_id, n in _conversation_counts(db, f).items():
        counts[employee_id]["conversations"] = n
    for employee_id, (n, convs) in _standing_counts(db, f).items():
        counts[employee_id].update(violations=n, violating_conversations=convs)
    for (_, employee_id), n in _appeal_counts(db, f).items():
        counts[employee_id]["appeals"] += n
    for (_, employee_id, status, _), n in _decided_counts(db, f).items():
        if status == "overturned":  # an upheld decision alone makes no row
            counts[employee_id]["overturned"] += n
    people = db.execute(
        select(Employee.id, Employee.external_id, Employee.name, Employee.team).where(
            Employee.id.in_([e for e in counts if e is not None])
        )
    ).all()
    out = [AgentRow(ext, name or ext, team, **counts[pk]) for pk, ext, name, team in people]
    return sorted(out, key=lambda r: (-r.violations, r.agent))


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
    """Time to decide runs from the appeal (or, for an unappealed finding, from the finding): the
    ``decide_seconds`` stored with each decision. Why the medians in Python: SQLite has no median,
    and fetching two numbers per decision (23 ms for 30,000) beat a window-function median
    (57 ms) in ``bench/dashboard.py``."""
    waits: dict[str, list[float]] = {}
    decisions: dict[str, int] = defaultdict(int)
    overturned: dict[str, int] = defaultdict(int)
    for by, status, seconds in db.execute(
        _violations(f, Violation.decided_by, Violation.status, Violation.decide_seconds,
                    at=Violation.decided_at).where(Violation.status.in_(DECIDED))
    ):  # fmt: skip
        waits.setdefault(by or "", [])
        decisions[by or ""] += 1
        if seconds is not None:  # a decision written around ``review.flows`` has no time
            waits[by or ""].append(max(0.0, seconds))
        overturned[by or ""] += status == "overturned"
    return sorted(
        (ReviewerRow(by, decisions[by], overturned[by],
                     round(statistics.median(w) / 3600, 1) if w else None)
         for by, w in waits.items()),
        key=lambda r: (-r.decisions, r.reviewer),
    )  # fmt: skip
