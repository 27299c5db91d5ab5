"""Group join/leave events (a customer joins 家长群3) turned into tags by ``group`` tag rules."""

from __future__ import annotations

from datetime import datetime
from fnmatch import fnmatchcase
from typing import Any, Literal

from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from qc_service.customers.models import CustomerEvent
from qc_service.customers.service import upsert_customer
from qc_service.db.base import utcnow
from qc_service.records import CustomerIn
from qc_service.rules.compiled import RuleSet
from qc_service.tagging.service import add_tag, remove_tag, replace_in_group
from qc_service.tenancy.service import get_or_create_tenant


class GroupEventIn(BaseModel):
    """A customer joined or left a group chat."""

    type: Literal["group_join", "group_leave"]
    customer: CustomerIn
    group: str = Field(min_length=1)
    ts: datetime | None = None


def apply_group_event(
    *, db_session: Session, tenant_id: str, ruleset: RuleSet, event: GroupEventIn
) -> dict[str, Any]:
    """Tag on join, untag on leave, per the tenant's ``group`` tag rules."""
    get_or_create_tenant(db_session=db_session, tenant_id=tenant_id)
    customer = upsert_customer(
        db_session=db_session, tenant_id=tenant_id, data=event.customer, owner=None
    )
    db_session.add(
        CustomerEvent(
            tenant_id=tenant_id,
            customer_id=customer.id,
            type=event.type,
            group_name=event.group,
            data={"group": event.group},
            ts=event.ts or utcnow(),
        )
    )  # fmt: skip  (kept for segments: in_group, event)
    added: list[str] = []
    removed: list[str] = []
    groups = ruleset.exclusive_groups()
    for rule in ruleset.rules:
        spec = rule.extra.get("group")
        if (
            not rule.enabled
            or rule.kind != "tag"
            or not spec
            or not rule.tag
            or not fnmatchcase(event.group, spec["match"])
        ):
            continue
        evidence = [{"kind": "event", "event": event.type, "group": event.group,
                     "ts": event.ts.isoformat() if event.ts else None}]  # fmt: skip
        if event.type == "group_join" and spec.get("on_join", "tag") == "tag":
            if add_tag(db_session=db_session, customer=customer, tag=rule.tag, source="group", rule_id=rule.id,
                       rule_version=rule.version, evidence=evidence):  # fmt: skip
                added.append(rule.tag)
                group = rule.extra.get("exclusive_group")
                if group:
                    removed += replace_in_group(db_session=db_session, customer=customer, tag=rule.tag,
                                                group_tags=groups[str(group)])  # fmt: skip
        elif event.type == "group_leave" and spec.get("on_leave", "untag") == "untag":
            if remove_tag(db_session=db_session, customer=customer, tag=rule.tag, actor="system",
                          reason=f"left group {event.group}"):  # fmt: skip
                removed.append(rule.tag)
    return {"customer_id": customer.external_id, "added": added, "removed": removed}
