"""``GET /v1/alerts/stream``: server-sent events for agents' and supervisors' clients."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse

from qc_service.alerts.hub import LocalHub
from qc_service.identity.policy import Access, Op, Scope, check_tenant
from qc_service.rules.contact import mask_pii_value
from qc_service.web.deps import require, still_valid
from qc_service.web.masking import MaskingRoute

router = APIRouter(prefix="/v1/alerts", tags=["alerts"], route_class=MaskingRoute)
KEEPALIVE_SECONDS = 15.0


def in_scope(event: dict[str, Any], scope: Scope) -> bool:
    """An alert the caller may see: their tenant's; an agent's own; a manager's teams'."""
    if event.get("tenant") != scope.tenant_id:
        return False
    if scope.access is Access.OWN:
        return scope.employee_id is not None and scope.employee_id in (
            event.get("employee_id"),
            event.get("supervisor_id") if event.get("target") == "supervisor" else None,
        )
    if scope.access is Access.TEAMS:
        return event.get("team") in scope.teams
    return scope.access is Access.ALL


def _wanted(event: dict[str, Any], employee: str | None, team: str | None) -> bool:
    """The stream's own filters, within the scope (``in_scope``)."""
    if employee:
        recipient = (
            event.get("supervisor_id")
            if event.get("target") == "supervisor"
            else event.get("employee_id")
        )
        if recipient != employee:
            return False
    return not (team and event.get("team") != team)


@router.get(
    "/stream",
    summary="Stream real-time alerts (server-sent events)",
    response_class=StreamingResponse,
    responses={
        200: {
            "content": {"text/event-stream": {}},
            "description": "`event: alert` lines, JSON data",
        }
    },
)
async def stream_alerts(
    request: Request,
    employee: Annotated[
        str | None,
        Query(
            description="only alerts addressed to this employee (an agent's own, or a supervisor's)"
        ),
    ] = None,
    team: Annotated[str | None, Query(description="only alerts of this team")] = None,
    tenant: Annotated[
        str | None, Query(description="must be the credential's tenant (403 TENANT_MISMATCH)")
    ] = None,
    scope: Annotated[Scope, require(Op.ALERTS_STREAM)] = None,  # type: ignore[assignment]
) -> StreamingResponse:
    """Each alert is one `alert` event whose data is the alert JSON (rule, severity, employee,
    conversation and the evidence: message id, span, text). A comment line every 15 s keeps
    proxies from closing an idle stream. Only alerts in the caller's scope are sent (an agent's
    own, a manager's teams', the tenant's for admins and reviewers), PII masked."""
    check_tenant(request.state.principal, tenant)
    hub: LocalHub = request.app.state.hub

    async def events() -> AsyncIterator[str]:
        async with hub.subscribe() as queue:
            yield ": connected\n\n"
            while True:
                try:
                    event = await asyncio.wait_for(queue.get(), timeout=KEEPALIVE_SECONDS)
                except TimeoutError:
                    if await request.is_disconnected() or not await still_valid(request):
                        return  # a revoked token or ended session stops the stream too
                    yield ": keepalive\n\n"
                    continue
                if in_scope(event, scope) and _wanted(event, employee, team):
                    data = json.dumps(mask_pii_value(event), ensure_ascii=False)
                    yield f"id: {event.get('id')}\nevent: alert\ndata: {data}\n\n"

    return StreamingResponse(
        events(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"}
    )
