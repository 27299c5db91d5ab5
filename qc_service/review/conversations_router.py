"""``GET /v1/conversations/{id}``: a conversation with its findings, as the caller may see it.

Why in review: the findings (violations with evidence, the score) are review's; the conversation
domain below knows messages and calls only. (Ingest lives in ``ingest.router``.)"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter
from sqlalchemy import select

from qc_service.conversations import schemas
from qc_service.conversations.scope import visible_conversation
from qc_service.identity.policy import Op, Scope, allowed
from qc_service.review.models import Score, Violation
from qc_service.web.deps import CurrentUser, DbSession, require
from qc_service.web.masking import MaskingRoute

router = APIRouter(prefix="/v1/conversations", tags=["conversations"], route_class=MaskingRoute)


@router.get(
    "/{conversation_id}",
    response_model=schemas.ConversationOut,
    responses={404: {"model": schemas.ErrorOut}},
    summary="Get a conversation",
)
def get_conversation(
    conversation_id: str,
    db: DbSession,
    user: CurrentUser,
    scope: Annotated[Scope, require(Op.CONVERSATIONS_READ)],
) -> schemas.ConversationOut:
    """Status (pending, analysed, failed), stage errors, messages, violations with evidence, score.
    Sales see the transcript of their customers' conversations but no violations and no score."""
    conv = visible_conversation(db, scope, conversation_id)
    findings = allowed(user.role, Op.VIOLATIONS_READ) is not None
    violations = db.scalars(
        select(Violation).where(Violation.conversation_id == conv.id).order_by(Violation.id)
    ).all() if findings else []  # fmt: skip
    score = (
        db.scalars(select(Score).where(Score.conversation_id == conv.id)).one_or_none()
        if findings
        else None
    )
    return schemas.ConversationOut(
        id=conv.external_id, tenant=conv.tenant_id, channel=conv.channel, status=conv.status, closed=conv.closed,
        employee_id=conv.employee.external_id, customer_id=conv.customer.external_id,
        started_at=conv.started_at, analysed_at=conv.analysed_at,
        stage_errors=[schemas.StageErrorOut(**e) for e in conv.stage_errors or []],
        messages=[schemas.MessageOut.of(m)
                  for m in conv.messages],
        violations=[
            schemas.ViolationBrief(
                id=v.id, rule_id=v.rule_id, rule_version=v.rule_version, severity=v.severity, status=v.status,
                created_at=v.created_at, evidence=[schemas.EvidenceOut(**e.to_dict()) for e in v.evidence],
            )
            for v in violations
        ],
        score=schemas.ScoreOut(score=score.score, pass_mark=score.pass_mark, passed=score.passed,
                               complete=score.complete, items=score.items) if score else None,
    )  # fmt: skip
