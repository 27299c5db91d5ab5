"""Write an analysis into the store: violations + evidence, the score, customer tags, errors.

Why here and idempotent: re-running analysis on the same conversation (a retry, a sweep, a
final run after provisional ones) must produce no duplicate findings. One violation per
(tenant, conversation, rule); later runs only add evidence not seen before; a violation that is
appealed or decided is never rewritten. All of it happens in the caller's transaction.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from qc_service.alerts.service import raise_alerts
from qc_service.audit.models import AuditEvent
from qc_service.conversations.models import Conversation
from qc_service.customers.models import Customer
from qc_service.db.base import utcnow
from qc_service.pipeline.actions import on_violation_opened
from qc_service.review.models import Evidence, Violation
from qc_service.review.scoring import save_score
from qc_service.rules.analysis import Analysis, TagFinding
from qc_service.rules.compiled import RuleSet
from qc_service.rules.model import Evidence as Ev
from qc_service.tagging.service import add_tag, record_aggregate_hits, replace_in_group

FROZEN = frozenset({"appealed", "upheld", "overturned", "confirmed"})
"""Statuses re-analysis never touches."""
MAX_TAG_EVIDENCE = 20


def _evidence_row(ev: Ev) -> Evidence:
    return Evidence(
        kind=ev.kind, message_external_id=ev.message_id, role=ev.role, start=ev.start, end=ev.end,
        text=ev.text, t_start=ev.t_start, t_end=ev.t_end, value=ev.value, unit=ev.unit, message_ids=ev.message_ids,
    )  # fmt: skip


def _key(ev: Ev | Evidence) -> tuple[object, ...]:
    mid = ev.message_id if isinstance(ev, Ev) else ev.message_external_id
    return (ev.kind, mid, ev.start, ev.end, ev.t_start, ev.t_end)


def save_violations(
    db_session: Session, conv: Conversation, ruleset: RuleSet, analysis: Analysis
) -> list[Violation]:
    """Create or extend one violation per fired rule; returns the violations created."""
    existing = {
        v.rule_id: v
        for v in db_session.scalars(select(Violation).where(Violation.conversation_id == conv.id))
    }
    created = []
    for result in analysis.violations:
        rule = ruleset.get(result.rule_id)
        violation = existing.get(rule.id)
        if violation is None:
            violation = Violation(
                tenant_id=conv.tenant_id, conversation_id=conv.id, employee_id=conv.employee_id, channel=conv.channel,
                rule_id=rule.id, rule_version=rule.version,
                severity=rule.severity, status="open", deduct=rule.deduct, fatal=rule.fatal,
                actions=[{**a.to_dict(), "status": "recorded", "error": None} for a in rule.actions],
            )  # fmt: skip
            violation.evidence = [_evidence_row(e) for e in result.evidence]
            db_session.add(violation)
            db_session.flush()
            db_session.add(AuditEvent(
                tenant_id=conv.tenant_id, entity_type="violation", entity_id=str(violation.id),
                action="opened", actor="system", before=None,
                after={"status": "open", "rule_id": rule.id, "rule_version": rule.version, "conversation": conv.external_id},
            ))  # fmt: skip
            on_violation_opened(db_session=db_session, conv=conv, violation=violation, rule=rule)
            created.append(violation)
            continue
        if violation.status in FROZEN:
            continue
        seen = {_key(e) for e in violation.evidence}
        for ev in result.evidence:
            if _key(ev) not in seen:
                violation.evidence.append(_evidence_row(ev))
                seen.add(_key(ev))
    db_session.flush()
    return created


def save_tags(
    db_session: Session, conv: Conversation, ruleset: RuleSet, tags: list[TagFinding]
) -> None:
    """Put tag rules' tags on the conversation's customer (see ``tagging.service.add_tag``); a tag
    of an exclusive group replaces the group's other tags."""
    groups = ruleset.exclusive_groups()
    for finding in tags:
        added = add_tag(
            db_session=db_session, customer=conv.customer, tag=finding.tag, source=finding.source,
            rule_id=finding.rule_id, rule_version=finding.rule_version,
            evidence=[{**e.to_dict(), "conversation_id": conv.external_id} for e in finding.evidence],
        )  # fmt: skip
        rule = ruleset.get(finding.rule_id)
        if finding.source == "qa":
            remember_value(conv.customer, rule.extra["qa"]["answer"]["extract"], finding.evidence)
        group = rule.extra.get("exclusive_group")
        if added and group:
            replace_in_group(
                db_session=db_session,
                customer=conv.customer,
                tag=finding.tag,
                group_tags=groups[str(group)],
            )


def remember_value(customer: Customer, kind: str, evidence: list[Ev]) -> None:
    """The value a Q&A answer gave (``age`` 8), kept on the customer for segments' ``attr``."""
    value = next((e.value for e in reversed(evidence) if e.value is not None), None)
    if value is not None:
        extra = dict(customer.extra or {})
        extra["values"] = {**extra.get("values", {}), kind: value}
        customer.extra = extra


def raise_deep_alerts(
    db_session: Session, conv: Conversation, ruleset: RuleSet, analysis: Analysis
) -> list[dict[str, Any]]:
    """Alerts of rules the hot lane could not decide (raised once, like the hot lane's)."""
    violations = {
        v.rule_id: v
        for v in db_session.scalars(select(Violation).where(Violation.conversation_id == conv.id))
    }
    events: list[dict[str, Any]] = []
    for result in analysis.violations:
        rule = ruleset.get(result.rule_id)
        violation = violations.get(rule.id)
        if violation is None or violation.status in FROZEN:
            continue
        events.extend(
            raise_alerts(
                db_session=db_session,
                conv=conv,
                violation=violation,
                rule=rule,
                evidence=result.evidence,
            )
        )
    return events


def save_analysis(
    db_session: Session, conv: Conversation, ruleset: RuleSet, analysis: Analysis
) -> list[dict[str, Any]]:
    """Everything an analysis found, in the caller's transaction; the conversation is analysed.
    Returns the alert events to publish after commit."""
    save_violations(db_session, conv, ruleset, analysis)
    save_score(db_session, conv, ruleset.pass_mark, complete=not analysis.errors)
    save_tags(db_session, conv, ruleset, analysis.tags)
    groups = ruleset.exclusive_groups()
    for hit in analysis.aggregate_hits:
        rule = ruleset.get(hit.rule_id)
        spec = rule.extra["aggregate"]
        group = rule.extra.get("exclusive_group")
        record_aggregate_hits(
            db_session=db_session, customer=conv.customer, hit=hit, window_days=int(spec.get("window_days", 30)),
            min_hits=int(spec.get("min_hits", 3)), exclusive=groups.get(str(group)) if group else None,
        )  # fmt: skip
    events = raise_deep_alerts(db_session, conv, ruleset, analysis)
    conv.stage_errors = [{"stage": e.stage, "message": e.message} for e in analysis.errors]
    conv.lease_until = None
    conv.status = "analysed"
    conv.analysed_at = utcnow()
    conv.analysis_attempts = (conv.analysis_attempts or 0) + 1
    db_session.flush()
    return events
