"""``GET /v1/alerts/stream``: server-sent events for agents' and supervisors' clients."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse

from qc_service.alerts.hub import LocalHub

router = APIRouter(prefix="/v1/alerts", tags=["alerts"])
KEEPALIVE_SECONDS = 15.0


def _wanted(
    event: dict[str, Any], tenant: str | None, employee: str | None, team: str | None
) -> bool:
    if tenant and event.get("tenant") != tenant:
        return False
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
    tenant: Annotated[str | None, Query(description="only alerts of this tenant")] = None,
) -> StreamingResponse:
    """Each alert is one `alert` event whose data is the alert JSON (rule, severity, employee,
    conversation and the evidence: message id, span, text). A comment line every 15 s keeps
    proxies from closing an idle stream."""
    hub: LocalHub = request.app.state.hub

    async def events() -> AsyncIterator[str]:
        async with hub.subscribe() as queue:
            yield ": connected\n\n"
            while True:
                try:
                    event = await asyncio.wait_for(queue.get(), timeout=KEEPALIVE_SECONDS)
                except TimeoutError:
                    if await request.is_disconnected():
                        return
                    yield ": keepalive\n\n"
                    continue
                if _wanted(event, tenant, employee, team):
                    yield f"id: {event.get('id')}\nevent: alert\ndata: {json.dumps(event, ensure_ascii=False)}\n\n"

    return StreamingResponse(
        events(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"}
    )
