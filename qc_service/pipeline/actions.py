"""Carry out a new violation's actions: CRM events through the outbox, in the finding's transaction.

Why here: ``tag_customer`` puts a tag on the customer (``tag.added``), ``transfer_customer``
requests an owner change (``customer.transfer_requested``; "supervisor" is the record's
``employee.supervisor_id`` — none known is a visible action error on the violation), and every
new violation is reported to the CRM (``violation.opened``). Alerts are raised by the lanes.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from crm_bridge.outbox.service import enqueue
from qc_service.conversations.models import Conversation
from qc_service.review.models import Violation
from qc_service.rules.compiled import CompiledRule
from qc_service.tagging.service import add_tag


def on_violation_opened(
    *, db_session: Session, conv: Conversation, violation: Violation, rule: CompiledRule
) -> None:
    """Report the new violation and carry out its transfer and tag actions."""
    customer = conv.customer
    evidence = [e.to_dict() for e in violation.evidence]
    enqueue(
        db_session=db_session, tenant_id=conv.tenant_id, event_type="violation.opened",
        customer_external_id=customer.external_id,
        data={"violation_id": violation.id, "conversation_id": conv.external_id, "employee_id": conv.employee.external_id,
              "rule_id": rule.id, "rule_version": rule.version, "rule_name": rule.name, "severity": rule.severity,
              "status": violation.status, "evidence": evidence},
    )  # fmt: skip
    states: list[dict[str, Any]] = []
    for action in rule.actions:
        state: dict[str, Any] = {**action.to_dict(), "status": "recorded", "error": None}
        if action.type == "transfer_customer":
            to = (
                conv.employee.supervisor_external_id
                if action.target == "supervisor"
                else action.target
            )
            if not to:
                state.update(
                    status="error",
                    error=f"no supervisor known for employee {conv.employee.external_id}",
                )
            else:
                enqueue(
                    db_session=db_session, tenant_id=conv.tenant_id, event_type="customer.transfer_requested",
                    customer_external_id=customer.external_id,
                    data={"from_employee": customer.owner_external_id or conv.employee.external_id, "to_employee": to,
                          "violation_id": violation.id, "rule_id": rule.id, "conversation_id": conv.external_id},
                )  # fmt: skip
                state.update(status="queued", to_employee=to)
        elif action.type == "tag_customer":
            add_tag(
                db_session=db_session, customer=customer, tag=action.target, source="rule", rule_id=rule.id,
                rule_version=rule.version, evidence=[{**e, "conversation_id": conv.external_id} for e in evidence],
            )  # fmt: skip
            state["status"] = "applied"
        elif action.type == "alert":
            state["status"] = "raised"
        states.append(state)
    violation.actions = states
