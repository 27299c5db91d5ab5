"""``/v1/conversations``: ingest records, read a conversation with its findings."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy import select

from qc_service.conversations import schemas
from qc_service.conversations.scope import visible_conversation
from qc_service.identity.policy import Op, Scope, allowed
from qc_service.ingest import live
from qc_service.review.models import Score, Violation
from qc_service.web.deps import CurrentUser, DbSession, RuntimeDep, require
from qc_service.web.masking import MaskingRoute

router = APIRouter(prefix="/v1/conversations", tags=["conversations"], route_class=MaskingRoute)
Ingest = Annotated[Scope, require(Op.INGEST)]


@router.post(
    "",
    response_model=schemas.IngestResponse,
    responses={409: {"model": schemas.IngestResponse}, 422: {"model": schemas.IngestResponse}},
    summary="Ingest conversation records",
)
def ingest_records(body: schemas.IngestRequest, runtime: RuntimeDep, scope: Ingest) -> JSONResponse:
    """Store each record (idempotent merge by id), check its new messages against the hot-lane red
    lines (alerts go out on the stream) and queue it for deep analysis. Every record gets its own
    answer: ``accepted``, ``unchanged`` or ``rejected`` with the error. When every record is
    rejected the status is 409 (conflicting message text), 403 (every record named another
    tenant: ``TENANT_MISMATCH``) or 422 (invalid records); else 200. A record's tenant is the
    credential's. Records posted here stay open until closed (``"closed": true``, the close call,
    or idle)."""
    answers = [
        live.ingest_record(runtime, record, tenant=scope.tenant_id) for record in body.records
    ]
    out = schemas.IngestResponse(results=[schemas.RecordAnswerOut(**a.to_dict()) for a in answers])
    status = 200
    if all(a.status == "rejected" for a in answers):
        codes = {a.error["code"] if a.error else None for a in answers}
        status = {frozenset({"CONFLICT"}): 409, frozenset({"TENANT_MISMATCH"}): 403}.get(
            frozenset(codes), 422
        )
    return JSONResponse(out.model_dump(mode="json"), status_code=status)


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
        messages=[schemas.MessageOut(id=m.external_id, seq=m.seq, role=m.role, type=m.type, text=m.text, ts=m.ts)
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


@router.post(
    "/{conversation_id}/messages",
    response_model=schemas.AppendResponse,
    responses={
        404: {"model": schemas.ErrorOut},
        409: {"model": schemas.ErrorOut},
        422: {"model": schemas.ErrorOut},
    },
    summary="Append messages as they are sent",
)
def append_messages(
    conversation_id: str, body: schemas.AppendRequest, runtime: RuntimeDep, scope: Ingest
) -> schemas.AppendResponse:
    """New messages are stored, checked on the hot lane (an alert inside this call) and queued for
    a provisional deep run; known message ids are left alone (a different text is a 409); an
    append reopens a closed conversation."""
    out = live.append(
        runtime, tenant=scope.tenant_id, conversation_id=conversation_id, messages=body.messages
    )
    return schemas.AppendResponse(**out)


@router.post(
    "/{conversation_id}/close",
    response_model=schemas.CloseResponse,
    responses={404: {"model": schemas.ErrorOut}},
    summary="Close a conversation (final analysis)",
)
def close_conversation(
    conversation_id: str, runtime: RuntimeDep, scope: Ingest
) -> schemas.CloseResponse:
    """Operators that need the end of the conversation run on the final analysis this queues."""
    return schemas.CloseResponse(
        **live.close(runtime, tenant=scope.tenant_id, conversation_id=conversation_id)
    )
