"""``/v1/customers/{id}/tags`` (what sales see, and remove when wrong) and ``POST /v1/events``."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field

from qc_service.conversations.schemas import ErrorOut
from qc_service.conversations.scope import visible_customer
from qc_service.db.session import write_transaction
from qc_service.identity.policy import Op, Principal, Scope
from qc_service.rulesets.service import active_ruleset
from qc_service.tagging.events import GroupEventIn, apply_group_event
from qc_service.tagging.overrides import act_on_tag
from qc_service.tagging.schemas import TagOut
from qc_service.tagging.service import active_tags
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
             reason: str | None) -> None:  # fmt: skip
    """``overrides.act_on_tag`` in its own write transaction."""
    with write_transaction(store.session_factory) as db:
        act_on_tag(db, scope=scope, actor=user.username, customer_id=customer_id, tag=tag,
                   action=action, reason=reason)  # fmt: skip


@router.delete("/v1/customers/{customer_id}/tags/{tag}", status_code=204, responses={404: {"model": ErrorOut}},
               summary="Remove a wrong tag")  # fmt: skip
def delete_tag(customer_id: str, tag: str, store: StoreDep, user: CurrentUser, scope: TagWrite,
               reason: Reason = "removed by hand") -> None:  # fmt: skip
    """A person removes a wrong tag: an override, so no automatic source (rules, Q&A, groups,
    segments) puts it back until an admin clears it; the CRM gets a ``tag.removed`` event."""
    _tag_act(store, scope, user, customer_id, tag, "tag.removed", reason)


@router.post("/v1/customers/{customer_id}/tags/{tag}/lock", status_code=204, responses={404: {"model": ErrorOut}},
             summary="Lock a tag")  # fmt: skip
def lock(customer_id: str, tag: str, body: OverrideIn, store: StoreDep, user: CurrentUser,
         scope: TagWrite) -> None:  # fmt: skip
    """A person keeps a tag on: no automatic source takes it off until an admin clears the lock."""
    _tag_act(store, scope, user, customer_id, tag, "tag.locked", body.reason)


@router.post("/v1/customers/{customer_id}/tags/{tag}/confirm", status_code=204, responses={404: {"model": ErrorOut}},
             summary="Confirm a tag")  # fmt: skip
def confirm(customer_id: str, tag: str, body: OverrideIn, store: StoreDep, user: CurrentUser,
            scope: TagWrite) -> None:  # fmt: skip
    """A person checked the tag and its evidence and found it right."""
    _tag_act(store, scope, user, customer_id, tag, "tag.confirmed", body.reason or None)


@router.delete("/v1/customers/{customer_id}/tags/{tag}/override", status_code=204,
               responses={404: {"model": ErrorOut}}, summary="Clear a tag override (admin)")  # fmt: skip
def clear(customer_id: str, tag: str, store: StoreDep, user: CurrentUser,
          scope: Annotated[Scope, require(Op.SEGMENTS_WRITE)], reason: Reason = "") -> None:  # fmt: skip
    """Automatic sources act on the tag again (a removed tag may come back with its evidence, a
    locked one may be taken off)."""
    _tag_act(store, scope, user, customer_id, tag, "tag.override_cleared", reason or None)


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
