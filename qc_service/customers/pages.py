"""The salesperson's pages (UI.md): ``/customers`` and ``/customers/{id}``.

Why thin: reads are the customer and tag queries of the JSON routers; 移除 and 锁定 go through
``tagging.overrides.act_on_tag``, the same function as ``DELETE /v1/customers/{id}/tags/{tag}``
and ``POST …/lock``, so the override model (ACCESS.md) and its audit event are one.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal
from urllib.parse import quote

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import select

from qc_service.audit.models import AuditEvent
from qc_service.conversations.models import Conversation, Message
from qc_service.conversations.scope import visible_customer
from qc_service.db.session import write_transaction
from qc_service.identity.policy import Op, Scope, allowed
from qc_service.segments.views import customer_segments
from qc_service.tagging.customer_search import search_customers
from qc_service.tagging.models import CustomerTag
from qc_service.tagging.overrides import act_on_tag
from qc_service.tagging.service import active_tags
from qc_service.web.deps import CurrentUser, DbSession, StoreDep, require
from qc_service.web.marks import pieces
from qc_service.web.masking import MaskingRoute
from qc_service.web.templating import render

router = APIRouter(include_in_schema=False, route_class=MaskingRoute)
Read = Annotated[Scope, require(Op.CUSTOMERS_READ)]
Write = Annotated[Scope, require(Op.TAGS_WRITE)]


@router.get("/customers")
def customer_list(request: Request, db: DbSession, store: StoreDep, scope: Read,
                  q: str | None = None, tag: str | None = None, cursor: int | None = None) -> Response:  # fmt: skip
    """The customers in scope, searchable by name (or id) and by a tag they carry now."""
    rows, nxt = search_customers(db_session=db, scope=scope, q=q, tag=tag, cursor=cursor)
    tags = {c.id: active_tags(db_session=db, customer=c) for c in rows}
    return render(request, "customers/list.html", {"rows": rows, "tags": tags, "q": q or "", "tag": tag or "",
                                                   "next": nxt, "tz": store.settings.timezone})  # fmt: skip


def _evidence(db: DbSession, customer_id: int, tag: CustomerTag) -> list[dict[str, Any]]:
    """Each piece of evidence as the quoted message with the span marked (the message is looked up
    in the customer's conversations; a purged one says so)."""
    out = []
    for e in tag.evidence or []:
        start, end, text = e.get("start"), e.get("end"), e.get("text") or ""
        row = db.execute(
            select(Message.text).join(Conversation, Message.conversation_id == Conversation.id).where(
                Conversation.customer_id == customer_id, Conversation.external_id == e.get("conversation_id"),
                Message.external_id == e.get("message_id"))
        ).first() if e.get("message_id") else None  # fmt: skip
        if row is not None and start is not None and end is not None:
            quoted = pieces(row[0], [(start, end)])
        else:
            quoted = pieces(text, [(0, len(text))])
        out.append({"pieces": quoted, "ts": e.get("ts"), "conversation_id": e.get("conversation_id"),
                    "message_id": e.get("message_id"), "gone": row is None and bool(e.get("message_id")),
                    "value": e.get("value")})  # fmt: skip
    return out


def _history(
    db: DbSession, customer_id: int, external_id: str, tenant_id: str
) -> list[dict[str, Any]]:
    """Tags applied and removed (the tag rows) and people's acts (the audit trail), newest first."""
    items: list[dict[str, Any]] = []
    for t in db.scalars(select(CustomerTag).where(CustomerTag.customer_id == customer_id)):
        items.append({"at": t.first_seen_at, "what": f"打上 {t.tag}", "who": t.source})
        if t.removed_at is not None:
            items.append(
                {"at": t.removed_at, "what": f"去掉 {t.tag}", "who": t.removed_by or "system"}
            )
    for ev in db.scalars(select(AuditEvent).where(
            AuditEvent.tenant_id == tenant_id, AuditEvent.entity_type == "customer",
            AuditEvent.entity_id == external_id, AuditEvent.action.in_(("tag.locked", "tag.confirmed",
                                                                        "tag.override_cleared")))):  # fmt: skip
        items.append({"at": ev.created_at, "what": f"{ev.action} {(ev.after or {}).get('tag', '')}",
                      "who": ev.actor, "reason": ev.reason})  # fmt: skip
    return sorted(items, key=lambda i: i["at"], reverse=True)


@router.get("/customers/{customer_id}")
def customer_page(request: Request, customer_id: str, db: DbSession, store: StoreDep, scope: Read,
                  user: CurrentUser) -> Response:  # fmt: skip
    """Tag chips by group with source, confidence, first/last applied, 依据, 移除 and 锁定."""
    customer = visible_customer(db, scope, customer_id)
    tags = active_tags(db_session=db, customer=customer)
    groups: dict[str, list[dict[str, Any]]] = {}
    for t in tags:
        group = t.tag.split(":", 1)[0] if ":" in t.tag else (t.rule_id or "其他").split(".", 1)[0]
        groups.setdefault(group, []).append({"t": t, "evidence": _evidence(db, customer.id, t)})
    return render(request, "customers/page.html", {
        "c": customer, "groups": groups, "tz": store.settings.timezone,
        "may_write": allowed(user.role, Op.TAGS_WRITE) is not None,
        "history": _history(db, customer.id, customer.external_id, customer.tenant_id),
        "segments": customer_segments(db, customer),
    })  # fmt: skip


ACTS = {"remove": ("tag.removed", "removed by hand"), "lock": ("tag.locked", "locked by hand")}
"""The page's two buttons: 移除 (with its 移除理由; no automatic source puts the tag back) and
锁定 (no automatic source removes it) — ACCESS.md's one override model."""


@router.post("/customers/{customer_id}/tags/{tag}/{act}")
def tag_act_page(customer_id: str, tag: str, act: Literal["remove", "lock"], store: StoreDep,
                 user: CurrentUser, scope: Write,
                 reason: Annotated[str, Form(max_length=1000)] = "") -> Response:  # fmt: skip
    """移除 or 锁定 through ``act_on_tag`` (the API's function), then back to the customer."""
    action, default_reason = ACTS[act]
    with write_transaction(store.session_factory) as db:
        act_on_tag(db, scope=scope, actor=user.username, customer_id=customer_id, tag=tag,
                   action=action, reason=reason.strip() or default_reason)  # fmt: skip
    return RedirectResponse(f"/customers/{quote(customer_id)}", status_code=303)
