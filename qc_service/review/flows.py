"""The violation lifecycle: the one place a violation's status changes.

Why one transition function: every change — an agent's appeal, a reviewer's decision, a spot
check, the appeal window running out — goes through ``transition``, which refuses any pair not
in ``TRANSITIONS`` (409 INVALID_TRANSITION), writes the audit event, recomputes the score and
writes the ``violation.decided`` outbox event, all in the caller's transaction.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from crm_bridge.outbox.service import enqueue
from qc_service.audit.models import AuditEvent
from qc_service.conversations.models import Conversation
from qc_service.db.base import utcnow
from qc_service.errors import AlreadyDecided, InvalidTransition, QCError
from qc_service.review import reasons
from qc_service.review.enums import DECIDED, JUDGED, TRANSITIONS, ViolationStatus
from qc_service.review.models import Appeal, Score, Violation
from qc_service.review.scoring import save_score
from qc_service.rules.model import SEVERITIES


def window_closes_at(violation: Violation, window_days: int) -> datetime:
    """When the agent can no longer appeal (counted from the violation's creation)."""
    return violation.created_at + timedelta(days=window_days)


def transition(
    *,
    db_session: Session,
    violation: Violation,
    to: ViolationStatus,
    actor: str,
    detail: dict[str, Any] | None = None,
) -> Violation:
    """Move a violation to ``to``; refuse unlisted transitions; audit, score, outbox."""
    current = ViolationStatus(violation.status)
    if (current, to) not in TRANSITIONS:
        raise InvalidTransition(
            f"violation {violation.id} is {current}; it cannot become {to}",
            field="status",
        )
    now = utcnow()
    violation.status = to
    if to in DECIDED:
        violation.decided_at = now
        violation.decided_by = actor
        if to in JUDGED:  # a reviewer's decision; the window closing is no one's time to decide
            violation.decide_seconds = (now - _waiting_since(db_session, violation)).total_seconds()
    db_session.add(AuditEvent(
        tenant_id=violation.tenant_id, entity_type="violation", entity_id=str(violation.id),
        action=f"status.{to}", actor=actor, before={"status": str(current)},
        after={"status": str(to), **(detail or {})}, created_at=now,
    ))  # fmt: skip
    conv = db_session.get(Conversation, violation.conversation_id)
    if conv is None:  # pragma: no cover - foreign key
        raise QCError("violation without conversation")
    if to in DECIDED:
        pass_mark = save_score_pass_mark(db_session, conv)
        save_score(db_session, conv, pass_mark, complete=not conv.stage_errors)
        enqueue(
            db_session=db_session, tenant_id=violation.tenant_id, event_type="violation.decided",
            customer_external_id=conv.customer.external_id,
            data={"violation_id": violation.id, "conversation_id": conv.external_id, "rule_id": violation.rule_id,
                  "rule_version": violation.rule_version, "severity": violation.severity, "status": str(to),
                  "decided_by": actor, **(detail or {})},
        )  # fmt: skip
    db_session.flush()
    return violation


def _waiting_since(db_session: Session, violation: Violation) -> datetime:
    """When the decision became due: the latest appeal, or the finding when nobody appealed."""
    appealed = db_session.scalar(
        select(func.max(Appeal.created_at)).where(Appeal.violation_id == violation.id)
    )
    return appealed or violation.created_at


def save_score_pass_mark(db_session: Session, conv: Conversation) -> int:
    """The pass mark the conversation was last scored with (the tenant's, if never scored)."""
    score = db_session.scalars(select(Score).where(Score.conversation_id == conv.id)).one_or_none()
    if score is not None:
        return score.pass_mark
    return int((conv.tenant.settings or {}).get("pass_mark", 60))


def appeal(
    *, db_session: Session, violation: Violation, reason: str, appellant: str, window_days: int
) -> Appeal:
    """An agent disputes a finding (PIPL Art. 24: the right to a human review)."""
    if not reason.strip():
        raise QCError("an appeal needs a reason", field="reason")
    if violation.status == ViolationStatus.OPEN and utcnow() > window_closes_at(
        violation, window_days
    ):
        raise InvalidTransition(
            f"the appeal window of violation {violation.id} closed at "
            f"{window_closes_at(violation, window_days).isoformat()}",
            field="status",
        )
    transition(db_session=db_session, violation=violation, to=ViolationStatus.APPEALED, actor=appellant,
               detail={"reason": reason})  # fmt: skip
    row = Appeal(violation_id=violation.id, reason=reason, appellant=appellant)
    db_session.add(row)
    db_session.flush()
    return row


def decide(
    *,
    db_session: Session,
    violation: Violation,
    decision: str,
    reviewer: str,
    comment: str | None,
    severity: str | None = None,
    reason_code: str | None = None,
    expected_status: str | None = None,
) -> Violation:
    """A reviewer upholds or overturns (with or without an appeal).

    ``reason_code`` comes from the tenant's list (``reasons``): required for an overturn (422
    REASON_REQUIRED), ``confirmed`` when an uphold gives none. ``expected_status`` is the status
    the reviewer's form was shown with: if someone decided in between, 409 ALREADY_DECIDED names
    them and nothing changes (the caller holds the row lock, so two forms cannot both write)."""
    to = {"uphold": ViolationStatus.UPHELD, "overturn": ViolationStatus.OVERTURNED}.get(decision)
    if to is None:
        raise QCError("decision must be uphold or overturn", field="decision")
    if expected_status is not None and violation.status != expected_status:
        raise AlreadyDecided(
            f"violation {violation.id} was already decided by {violation.decided_by or 'someone'}",
            field="status",
        )
    code = reasons.resolve(decision, reason_code, reasons.tenant_reasons(violation.tenant))
    if severity is not None:
        if severity not in SEVERITIES:
            raise QCError(f"severity must be one of {', '.join(SEVERITIES)}", field="severity")
        if to != ViolationStatus.UPHELD:
            raise QCError("severity can only be changed when upholding", field="severity")
    detail: dict[str, Any] = {"decision": decision, "reason_code": code, "comment": comment}
    before_severity = violation.severity
    transition(db_session=db_session, violation=violation, to=to, actor=reviewer, detail=detail)
    violation.reason_code = code
    if severity is not None and severity != before_severity:
        violation.severity = severity
        db_session.add(AuditEvent(
            tenant_id=violation.tenant_id, entity_type="violation", entity_id=str(violation.id),
            action="severity.changed", actor=reviewer, before={"severity": before_severity}, after={"severity": severity},
        ))  # fmt: skip
    pending = [a for a in violation.appeals if a.decision is None]
    for a in pending:
        a.decision, a.reviewer, a.comment, a.decided_at = decision, reviewer, comment, utcnow()
        a.reason_code = code
    db_session.flush()
    return violation


def confirm(*, db_session: Session, violation: Violation, actor: str, reason: str) -> Violation:
    """open → confirmed: a reviewer's spot check, or the appeal window ran out."""
    return transition(db_session=db_session, violation=violation, to=ViolationStatus.CONFIRMED, actor=actor,
                      detail={"reason": reason})  # fmt: skip


def confirm_expired(
    *, db_session: Session, window_days: int, now: datetime | None = None
) -> list[int]:
    """Confirm every open violation whose appeal window has closed (run by the sweep)."""
    cutoff = (now or utcnow()) - timedelta(days=window_days)
    rows = db_session.scalars(
        select(Violation)
        .where(Violation.status == ViolationStatus.OPEN, Violation.created_at < cutoff)
        .limit(500)
    ).all()
    for v in rows:
        confirm(db_session=db_session, violation=v, actor="system", reason="appeal window closed")
    return [v.id for v in rows]
