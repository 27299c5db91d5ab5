"""``GET /v1/audit``: the tenant's audit events, newest first, with filters (admin only)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel

from qc_service.audit.service import AuditFilter, list_events
from qc_service.identity.policy import Op, Scope
from qc_service.web.deps import DbSession, require
from qc_service.web.masking import MaskingRoute

router = APIRouter(tags=["admin"], route_class=MaskingRoute)


class AuditEventOut(BaseModel):
    """One event of the chain."""

    id: int
    at: datetime
    actor: str | None
    action: str
    object_type: str
    object_id: str
    reason: str | None
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    hash: str | None


class AuditPage(BaseModel):
    """A page of events."""

    items: list[AuditEventOut]
    total: int
    next: str | None


@router.get("/v1/audit", response_model=AuditPage, summary="The audit log")
def audit_log(
    db: DbSession,
    scope: Annotated[Scope, require(Op.OPS_ADMIN)],
    actor: str | None = None,
    action: str | None = None,
    object_type: str | None = None,
    object_id: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    cursor: Annotated[
        int | None, Query(ge=1, le=2**63 - 1, description="`next` of the previous page")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> AuditPage:
    """Who did what to which object, when and why; filters by actor, action, object, time."""
    rows, total, nxt = list_events(
        db, tenant_id=scope.tenant_id,
        filters=AuditFilter(actor, action, object_type, object_id, since, until),
        cursor=cursor, limit=limit,
    )  # fmt: skip
    items = [AuditEventOut(id=e.id, at=e.created_at, actor=e.actor, action=e.action,
                           object_type=e.entity_type, object_id=e.entity_id, reason=e.reason,
                           before=e.before, after=e.after, hash=e.hash) for e in rows]  # fmt: skip
    return AuditPage(items=items, total=total, next=str(nxt) if nxt is not None else None)
