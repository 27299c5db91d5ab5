"""The rule list's figures (UI.md ``/rules``): per rule its status, severity, 7-day hits and
overturn rate, and the drafts that were backtested but never published; a rule's timeline.

Why grouped queries: the list shows every rule of the tenant at once; one ``GROUP BY`` per
figure, not one query per rule.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from qc_service.audit.models import AuditEvent
from qc_service.review.models import Violation
from qc_service.rulesets.models import BacktestRun, Rule, RuleVersion

HITS_DAYS = 7


@dataclass(slots=True)
class RuleRow:
    """One line of the rule list; ``status`` is ``draft`` | ``live`` | ``off``."""

    rule_id: str
    name: str
    kind: str
    severity: str | None
    status: str
    version: int | None
    updated_at: datetime | None
    hits_7d: int = 0
    decided: int = 0
    overturned: int = 0
    draft_run: str | None = None
    """For a draft: the backtest run that holds its text."""

    @property
    def overturn_rate(self) -> float | None:
        return round(self.overturned / self.decided, 3) if self.decided else None


def rule_rows(db: Session, *, tenant_id: str, now: datetime, q: str | None = None) -> list[RuleRow]:
    """Every rule (published ones and unpublished drafts), filtered by ``q`` in id or name."""
    rows: dict[str, RuleRow] = {}
    for rule, version in db.execute(
        select(Rule, RuleVersion)
        .join(RuleVersion, (RuleVersion.rule_pk == Rule.id) & (RuleVersion.version == Rule.current_version))
        .where(Rule.tenant_id == tenant_id)
    ):  # fmt: skip
        rows[rule.rule_id] = RuleRow(rule.rule_id, rule.name, rule.kind,
                                     version.definition.get("severity"),
                                     "live" if rule.enabled else "off", rule.current_version,
                                     max(rule.updated_at, version.created_at))  # fmt: skip
    # only what the list shows of the runs: not each draft's text and report
    runs = db.execute(select(BacktestRun.id, BacktestRun.rule_ids, BacktestRun.created_at)
                      .where(BacktestRun.tenant_id == tenant_id).order_by(BacktestRun.created_at))  # fmt: skip
    for run_id, rule_ids, created_at in runs:
        for rid in rule_ids:
            if rid not in rows or rows[rid].status == "draft":
                rows[rid] = RuleRow(rid, rid, "", None, "draft", None, created_at, draft_run=run_id)
    since = now - timedelta(days=HITS_DAYS)
    for rid, n in db.execute(select(Violation.rule_id, func.count())
                             .where(Violation.tenant_id == tenant_id, Violation.created_at >= since)
                             .group_by(Violation.rule_id)):  # fmt: skip
        if rid in rows:
            rows[rid].hits_7d = n
    for rid, status, n in db.execute(
        select(Violation.rule_id, Violation.status, func.count())
        .where(Violation.tenant_id == tenant_id, Violation.status.in_(("upheld", "overturned")))
        .group_by(Violation.rule_id, Violation.status)
    ):  # fmt: skip
        if rid in rows:
            rows[rid].decided += n
            rows[rid].overturned += n if status == "overturned" else 0
    out = sorted(rows.values(), key=lambda r: r.rule_id)
    if q:
        needle = q.lower()
        out = [r for r in out if needle in r.rule_id.lower() or needle in r.name.lower()]
    return out


def timeline(db: Session, *, tenant_id: str, rule_id: str) -> list[AuditEvent]:
    """Publish, enable, disable, schedule, activation and rollback of one rule, newest first."""
    return list(db.scalars(
        select(AuditEvent)
        .where(AuditEvent.tenant_id == tenant_id, AuditEvent.entity_type == "rule",
               AuditEvent.entity_id == rule_id)
        .order_by(AuditEvent.id.desc())
    ))  # fmt: skip
