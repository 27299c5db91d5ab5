"""``/v1/conversations``: ingest records, read a conversation with its findings."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy import select

from qc_service.api.deps import DbDep, StoreDep, TenantDep
from qc_service.conversations import schemas
from qc_service.conversations.service import get_or_raise
from qc_service.ingest.service import ingest_one
from qc_service.review.models import Score, Violation

router = APIRouter(prefix="/v1/conversations", tags=["conversations"])


@router.post(
    "",
    response_model=schemas.IngestResponse,
    responses={409: {"model": schemas.IngestResponse}, 422: {"model": schemas.IngestResponse}},
    summary="Ingest conversation records",
)
def ingest_records(body: schemas.IngestRequest, store: StoreDep) -> JSONResponse:
    """Store each record (idempotent merge by id) and analyse it. Every record gets its own answer:
    ``accepted``, ``unchanged`` or ``rejected`` with the error. When every record is rejected the
    status is 409 (conflicting message text) or 422 (invalid records); otherwise 200."""
    answers = [ingest_one(store, record, final=False) for record in body.records]
    out = schemas.IngestResponse(results=[schemas.RecordAnswerOut(**a.to_dict()) for a in answers])
    status = 200
    if all(a.status == "rejected" for a in answers):
        status = 409 if all(a.error and a.error["code"] == "CONFLICT" for a in answers) else 422
    return JSONResponse(out.model_dump(mode="json"), status_code=status)


@router.get(
    "/{conversation_id}",
    response_model=schemas.ConversationOut,
    responses={404: {"model": schemas.ErrorOut}},
    summary="Get a conversation",
)
def get_conversation(conversation_id: str, db: DbDep, tenant: TenantDep) -> schemas.ConversationOut:
    """Status (pending, analysed, failed), stage errors, messages, violations with evidence, score."""
    conv = get_or_raise(db_session=db, tenant_id=tenant, external_id=conversation_id)
    violations = db.scalars(
        select(Violation).where(Violation.conversation_id == conv.id).order_by(Violation.id)
    ).all()
    score = db.scalars(select(Score).where(Score.conversation_id == conv.id)).one_or_none()
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
