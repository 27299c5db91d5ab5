"""``/conversations/{id}`` (UI.md): the transcript as the caller may see it.

Why in review: violation evidence is review's; sales see the same transcript with their
customers' tag evidence marked and no violations (ACCESS.md).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy import select

from qc_service.conversations.scope import visible_conversation
from qc_service.identity.policy import Op, Scope, allowed
from qc_service.review.models import Violation
from qc_service.review.transcript import transcript_lines
from qc_service.tagging.service import active_tags
from qc_service.web.deps import CurrentUser, DbSession, StoreDep, require
from qc_service.web.masking import MaskingRoute
from qc_service.web.templating import render

router = APIRouter(include_in_schema=False, route_class=MaskingRoute)


@router.get("/conversations/{conversation_id}")
def conversation_page(
    request: Request, conversation_id: str, db: DbSession, store: StoreDep, user: CurrentUser,
    scope: Annotated[Scope, require(Op.CONVERSATIONS_READ)], m: str | None = None,
) -> Response:  # fmt: skip
    """Roles and times; ``?m=`` focuses that message; evidence in ``<mark>``; calls get the player."""
    conv = visible_conversation(db, scope, conversation_id)
    findings = allowed(user.role, Op.VIOLATIONS_READ) is not None
    violations = list(db.scalars(select(Violation).where(Violation.conversation_id == conv.id)
                                 .order_by(Violation.id))) if findings else []  # fmt: skip
    tag_spans: list[tuple[str, Any]] = []
    tags = (
        active_tags(db_session=db, customer=conv.customer)
        if allowed(user.role, Op.CUSTOMERS_READ)
        else []
    )
    for t in tags:
        for e in t.evidence or []:
            if e.get("conversation_id") in (None, conv.external_id) and e.get("message_id"):
                tag_spans.append((e["message_id"], (e.get("start"), e.get("end"))))
    return render(request, "conversation.html", {
        "conv": conv, "lines": transcript_lines(conv, violations, tag_spans), "violations": violations,
        "tz": store.settings.timezone, "is_call": bool((conv.call or {}).get("audio")), "focus": m,
    })  # fmt: skip
