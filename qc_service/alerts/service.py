"""Raising alerts: one per (conversation, rule, target), written with the violation, published
after commit on the stream, and delivered to the CRM/webhook through the outbox.

Why shared by both lanes: a hot rule alerts inside the ingest call; a rule only the deep lane
can decide alerts when its run finds it. Either way the same row, the same event, once.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from crm_bridge.outbox.service import enqueue
from qc_service.alerts.models import Alert
from qc_service.conversations.models import Conversation
from qc_service.review.models import Violation
from qc_service.rules.compiled import CompiledRule
from qc_service.rules.model import Evidence


def raise_alerts(
    *,
    db_session: Session,
    conv: Conversation,
    violation: Violation,
    rule: CompiledRule,
    evidence: list[Evidence],
) -> list[dict[str, Any]]:
    """Write the rule's not-yet-raised alerts; returns the events to publish after commit."""
    targets = [a.target for a in rule.actions if a.type == "alert"]
    if not targets:
        return []
    existing = set(
        db_session.scalars(
            select(Alert.target).where(Alert.conversation_id == conv.id, Alert.rule_id == rule.id)
        )
    )
    events = []
    for target in targets:
        if target in existing:
            continue
        payload: dict[str, Any] = {
            "tenant": conv.tenant_id, "conversation_id": conv.external_id, "violation_id": violation.id,
            "rule_id": rule.id, "rule_version": rule.version, "rule_name": rule.name, "severity": rule.severity,
            "target": target, "employee_id": conv.employee.external_id,
            "supervisor_id": conv.employee.supervisor_external_id, "team": conv.employee.team,
            "customer_id": conv.customer.external_id, "evidence": [e.to_dict() for e in evidence],
        }  # fmt: skip
        alert = Alert(
            tenant_id=conv.tenant_id, conversation_id=conv.id, violation_id=violation.id, rule_id=rule.id,
            target=target, employee_external_id=conv.employee.external_id, team=conv.employee.team, payload=payload,
        )  # fmt: skip
        db_session.add(alert)
        db_session.flush()
        payload = {**payload, "id": alert.id, "created_at": alert.created_at.isoformat()}
        alert.payload = payload
        enqueue(
            db_session=db_session, tenant_id=conv.tenant_id, event_type="alert.raised",
            customer_external_id=conv.customer.external_id, data={k: v for k, v in payload.items() if k != "customer_id"},
        )  # fmt: skip
        events.append(payload)
    return events
