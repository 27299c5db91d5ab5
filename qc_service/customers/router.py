"""``GET /v1/customers/{id}``: what sales see — owner, tags with evidence, violation summary."""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter
from pydantic import BaseModel
from sqlalchemy import select

from qc_service.conversations.models import Conversation
from qc_service.conversations.schemas import ErrorOut
from qc_service.conversations.scope import conversation_clause, visible_customer
from qc_service.identity.policy import Op, Scope, allowed
from qc_service.review.models import Violation
from qc_service.segments.views import customer_segments
from qc_service.tagging.schemas import TagOut
from qc_service.tagging.service import active_tags
from qc_service.web.deps import CurrentUser, DbSession, require
from qc_service.web.masking import MaskingRoute

router = APIRouter(prefix="/v1/customers", tags=["customers"], route_class=MaskingRoute)


class SegmentMembership(BaseModel):
    """A segment the customer is in, since when, and the leaves that were true."""

    id: str
    name: str
    entered_at: datetime
    why: list[str]


class CustomerRead(BaseModel):
    """A customer as the service knows them."""

    id: str
    name: str | None
    phone: str | None
    unionid: str | None
    crm_id: str | None
    owner_id: str | None
    tags: list[TagOut]
    violations: dict[str, Any]
    crm_summary: dict[str, Any]
    segments: list[SegmentMembership]


@router.get(
    "/{customer_id}",
    response_model=CustomerRead,
    responses={404: {"model": ErrorOut}},
    summary="Get a customer",
)
def get_customer_view(
    customer_id: str,
    db: DbSession,
    user: CurrentUser,
    scope: Annotated[Scope, require(Op.CUSTOMERS_READ)],
) -> CustomerRead:
    """Owner, current tags with their evidence, and a summary of the violations in the customer's
    conversations that stand (overturned ones are not counted); ``crm_summary`` is what the CRM
    bridge wrote to the customer's core record. Sales see the tags but no violations."""
    customer = visible_customer(db, scope, customer_id)
    tags = [TagOut.model_validate(t, from_attributes=True)
            for t in active_tags(db_session=db, customer=customer)]  # fmt: skip
    if allowed(user.role, Op.VIOLATIONS_READ) is None:  # sales: the tags, no findings
        violations: dict[str, Any] = {}
        crm_summary: dict[str, Any] = {}
    else:
        rows = db.execute(
            select(Violation.rule_id, Violation.status)
            .join(Conversation, Violation.conversation_id == Conversation.id)
            .where(Conversation.customer_id == customer.id, Violation.status != "overturned",
                   conversation_clause(scope))  # a manager counts only their teams' findings
        ).all()  # fmt: skip
        violations = {"total": len(rows), "by_rule": dict(Counter(r for r, _ in rows)),
                      "by_status": dict(Counter(st for _, st in rows))}  # fmt: skip
        crm_summary = customer.violation_summary or {}
    return CustomerRead(
        id=customer.external_id, name=customer.name, phone=customer.phone, unionid=customer.unionid,
        crm_id=customer.crm_id, owner_id=customer.owner_external_id, tags=tags,
        violations=violations, crm_summary=crm_summary,
        segments=[SegmentMembership(**m) for m in customer_segments(db, customer)],
    )  # fmt: skip
