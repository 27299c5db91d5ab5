"""``/v1/customers/{id}/tags`` (what sales see, and remove when wrong) and ``POST /v1/events``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from qc_service.audit.service import record
from qc_service.conversations.schemas import ErrorOut
from qc_service.conversations.scope import visible_customer
from qc_service.customers.models import Customer
from qc_service.db.session import write_transaction
from qc_service.errors import NotFound
from qc_service.identity.policy import Op, Principal, Scope
from qc_service.rulesets.service import active_ruleset
from qc_service.tagging.events import GroupEventIn, apply_group_event
from qc_service.tagging.schemas import TagOut
from qc_service.tagging.service import (
    active_tags,
    clear_override,
    confirm_tag,
    lock_tag,
    remove_by_person,
)
from qc_service.web.deps import CurrentUser, DbSession, StoreDep, require
from qc_service.web.masking import MaskingRoute

router = APIRouter(tags=["tags"], route_class=MaskingRoute)


class EventsIn(BaseModel):
    """``{"events": [...]}``: group joins and leaves."""

    events: list[GroupEventIn] = Field(min_length=1, max_length=1000)


@router.get("/v1/customers/{customer_id}/tags", response_model=list[TagOut], responses={404: {"model": ErrorOut}},
            summary="A customer's tags with evidence")  # fmt: skip
def list_tags(
    customer_id: str, db: DbSession, scope: Annotated[Scope, require(Op.CUSTOMERS_READ)]
) -> list[TagOut]:
    """The tags on the customer now, each with its source, rule version and evidence."""
    return [
        TagOut.model_validate(t, from_attributes=True)
        for t in active_tags(db_session=db, customer=visible_customer(db, scope, customer_id))
    ]


class OverrideIn(BaseModel):
    """Why a person locks or confirms a tag (kept with the override and in the audit trail)."""

    model_config = ConfigDict(extra="forbid")
    reason: str = Field("", max_length=1000)


TagWrite = Annotated[Scope, require(Op.TAGS_WRITE)]
Reason = Annotated[
    str, Query(max_length=1000, description="why (kept with the override and audited)")
]


def _tag_act(store: Any, scope: Scope, user: Principal, customer_id: str, tag: str, action: str,
             act: Callable[[Session, Customer], object], reason: str | None) -> None:  # fmt: skip
    """Run ``act`` on the customer in scope, in one transaction with its audit event; 404 when the
    customer is outside the scope or the tag is not there."""
    with write_transaction(store.session_factory) as db:
        if not act(db, visible_customer(db, scope, customer_id)):
            raise NotFound(f"customer {customer_id!r} has no tag {tag!r}", record_id=customer_id)
        summary = {"tag": tag}  # what was on before a removal; what holds after the others
        record(db, tenant_id=scope.tenant_id, actor=user.username, action=action, entity_type="customer",
               entity_id=customer_id, reason=reason, before=summary if action == "tag.removed" else None,
               after=None if action == "tag.removed" else summary)  # fmt: skip


@router.delete("/v1/customers/{customer_id}/tags/{tag}", status_code=204, responses={404: {"model": ErrorOut}},
               summary="Remove a wrong tag")  # fmt: skip
def delete_tag(customer_id: str, tag: str, store: StoreDep, user: CurrentUser, scope: TagWrite,
               reason: Reason = "removed by hand") -> None:  # fmt: skip
    """A person removes a wrong tag: an override, so no automatic source (rules, Q&A, groups,
    segments) puts it back until an admin clears it; the CRM gets a ``tag.removed`` event."""
    _tag_act(store, scope, user, customer_id, tag, "tag.removed", lambda db, c: remove_by_person(
        db_session=db, customer=c, tag=tag, actor=user.username, reason=reason), reason)  # fmt: skip


@router.post("/v1/customers/{customer_id}/tags/{tag}/lock", status_code=204, responses={404: {"model": ErrorOut}},
             summary="Lock a tag")  # fmt: skip
def lock(customer_id: str, tag: str, body: OverrideIn, store: StoreDep, user: CurrentUser,
         scope: TagWrite) -> None:  # fmt: skip
    """A person keeps a tag on: no automatic source takes it off until an admin clears the lock."""
    _tag_act(store, scope, user, customer_id, tag, "tag.locked", lambda db, c: lock_tag(
        db_session=db, customer=c, tag=tag, actor=user.username, reason=body.reason), body.reason)  # fmt: skip


@router.post("/v1/customers/{customer_id}/tags/{tag}/confirm", status_code=204, responses={404: {"model": ErrorOut}},
             summary="Confirm a tag")  # fmt: skip
def confirm(customer_id: str, tag: str, body: OverrideIn, store: StoreDep, user: CurrentUser,
            scope: TagWrite) -> None:  # fmt: skip
    """A person checked the tag and its evidence and found it right."""
    _tag_act(store, scope, user, customer_id, tag, "tag.confirmed", lambda db, c: confirm_tag(
        db_session=db, customer=c, tag=tag, actor=user.username), body.reason or None)  # fmt: skip


@router.delete("/v1/customers/{customer_id}/tags/{tag}/override", status_code=204,
               responses={404: {"model": ErrorOut}}, summary="Clear a tag override (admin)")  # fmt: skip
def clear(customer_id: str, tag: str, store: StoreDep, user: CurrentUser,
          scope: Annotated[Scope, require(Op.SEGMENTS_WRITE)], reason: Reason = "") -> None:  # fmt: skip
    """Automatic sources act on the tag again (a removed tag may come back with its evidence, a
    locked one may be taken off)."""
    _tag_act(store, scope, user, customer_id, tag, "tag.override_cleared", lambda db, c: clear_override(
        db_session=db, customer=c, tag=tag), reason or None)  # fmt: skip


@router.post("/v1/events", summary="Group join/leave events")
def post_events(
    body: EventsIn, store: StoreDep, scope: Annotated[Scope, require(Op.INGEST)]
) -> dict[str, Any]:
    """Each event is applied by the ``group`` tag rules (tag on join, untag on leave)."""
    tenant = scope.tenant_id
    results = []
    with write_transaction(store.session_factory) as db:
        ruleset = active_ruleset(db_session=db, tenant_id=tenant)
        for event in body.events:
            results.append(
                apply_group_event(db_session=db, tenant_id=tenant, ruleset=ruleset, event=event)
            )
    return {"results": results}
