"""``/v1/customers/{id}/tags`` (what sales see, and remove when wrong) and ``POST /v1/events``."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter
from pydantic import BaseModel, Field

from qc_service.audit.service import record
from qc_service.conversations.schemas import ErrorOut
from qc_service.conversations.scope import visible_customer
from qc_service.db.session import write_transaction
from qc_service.errors import NotFound
from qc_service.identity.policy import Op, Scope
from qc_service.rulesets.service import active_ruleset
from qc_service.tagging.events import GroupEventIn, apply_group_event
from qc_service.tagging.schemas import TagOut
from qc_service.tagging.service import active_tags, remove_tag
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


@router.delete("/v1/customers/{customer_id}/tags/{tag}", status_code=204, responses={404: {"model": ErrorOut}},
               summary="Remove a wrong tag")  # fmt: skip
def delete_tag(
    customer_id: str, tag: str, store: StoreDep, user: CurrentUser,
    scope: Annotated[Scope, require(Op.TAGS_WRITE)],
) -> None:  # fmt: skip
    """A salesperson removes a wrong tag; the same evidence will not put it back (new evidence may),
    and the CRM gets a ``tag.removed`` event."""
    with write_transaction(store.session_factory) as db:
        if not remove_tag(
            db_session=db,
            customer=visible_customer(db, scope, customer_id),
            tag=tag,
            actor=user.username,
            reason="removed by hand",
        ):
            raise NotFound(f"customer {customer_id!r} has no tag {tag!r}", record_id=customer_id)
        record(db, tenant_id=scope.tenant_id, actor=user.username, action="tag.removed",
               entity_type="customer", entity_id=customer_id, reason="removed by hand",
               before={"tag": tag})  # fmt: skip


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
