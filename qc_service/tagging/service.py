"""Customer tags: put on with their evidence; a person's removal or lock is an override.

Why every change goes through here: a tag change is also a CRM event (``tag.added`` /
``tag.removed`` in the outbox, same transaction), and the overrides of ACCESS.md must hold for
every automatic source (rules, actions, Q&A, groups, segments): a tag a person removed is not put
back, a tag a person locked is not taken off, until an admin clears the override.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from crm_bridge.outbox.service import enqueue, enqueue_many, event_row
from qc_service.customers.models import Customer, CustomerRef
from qc_service.db.base import utcnow
from qc_service.db.session import insert_rows
from qc_service.rules.aggregate import reached
from qc_service.rules.analysis import AggregateHit
from qc_service.tagging.models import CustomerTag, TagHit

MAX_TAG_EVIDENCE = 20


def add_tag(
    *,
    db_session: Session,
    customer: Customer,
    tag: str,
    source: str,
    rule_id: str | None,
    rule_version: int | None,
    evidence: list[dict[str, Any]],
) -> bool:
    """Put a tag on a customer (or refresh it); True when it is newly on the customer."""
    now = utcnow()
    row = db_session.scalars(
        select(CustomerTag).where(CustomerTag.customer_id == customer.id, CustomerTag.tag == tag)
    ).one_or_none()
    added = False
    if row is None:
        row = CustomerTag(
            tenant_id=customer.tenant_id, customer_id=customer.id, tag=tag, source=source, rule_id=rule_id,
            rule_version=rule_version, evidence=evidence[:MAX_TAG_EVIDENCE], first_seen_at=now, last_seen_at=now,
        )  # fmt: skip
        db_session.add(row)
        added = True
    else:
        known = {_evidence_key(e) for e in row.evidence or []}
        fresh = [e for e in evidence if _evidence_key(e) not in known]
        if row.removed_at is not None and row.override == "removed":
            return False  # a person removed it: no automatic source brings it back
        row.evidence = ((row.evidence or []) + fresh)[-MAX_TAG_EVIDENCE:]
        row.last_seen_at = now
        added = row.removed_at is not None
        row.removed_at = None
        row.removed_by = None
        row.rule_id, row.rule_version = rule_id, rule_version
    if added:
        enqueue(
            db_session=db_session, tenant_id=customer.tenant_id, event_type="tag.added",
            customer_external_id=customer.external_id,
            data={"tag": tag, "source": source, "rule_id": rule_id, "rule_version": rule_version, "evidence": evidence[:5]},
        )  # fmt: skip
    db_session.flush()
    return added


def add_tag_to_many(
    *, db_session: Session, customers: Sequence[Customer | CustomerRef], tag: str, source: str,
    rule_id: str, rule_version: int, evidence: list[dict[str, Any]],
) -> list[Customer | CustomerRef]:  # fmt: skip
    """``add_tag`` for many customers at once (a segment run): one read of the existing rows, new
    rows and their outbox events inserted in one statement each; the same override rule (a
    person's removal is never undone). Returns those newly tagged."""
    now = utcnow()
    rows = {
        r.customer_id: r
        for r in db_session.scalars(select(CustomerTag).where(
            CustomerTag.customer_id.in_([c.id for c in customers]), CustomerTag.tag == tag))
    }  # fmt: skip
    added: list[Customer | CustomerRef] = []
    fresh: list[dict[str, Any]] = []
    for customer in customers:
        row = rows.get(customer.id)
        if row is None:
            fresh.append({"tenant_id": customer.tenant_id, "customer_id": customer.id, "tag": tag, "source": source,
                          "rule_id": rule_id, "rule_version": rule_version, "evidence": evidence[:MAX_TAG_EVIDENCE],
                          "first_seen_at": now, "last_seen_at": now})  # fmt: skip
        elif row.removed_at is not None and row.override == "removed":
            continue
        else:
            was_off = row.removed_at is not None
            row.last_seen_at, row.removed_at, row.removed_by = now, None, None
            if not was_off:
                continue
            row.source, row.rule_id, row.rule_version = source, rule_id, rule_version
        added.append(customer)
    insert_rows(db_session, CustomerTag, fresh)
    data = {
        "tag": tag,
        "source": source,
        "rule_id": rule_id,
        "rule_version": rule_version,
        "evidence": evidence[:5],
    }
    enqueue_many(db_session, [
        event_row(tenant_id=c.tenant_id, event_type="tag.added", customer_external_id=c.external_id, data=data)
        for c in added
    ])  # fmt: skip
    return added


def _evidence_key(e: dict[str, Any]) -> tuple[Any, ...]:
    return (
        e.get("conversation_id"),
        e.get("message_id"),
        e.get("start"),
        e.get("group"),
        e.get("ts"),
    )


def active_tags(*, db_session: Session, customer: Customer | CustomerRef) -> list[CustomerTag]:
    """The tags on a customer now, oldest first."""
    return list(
        db_session.scalars(
            select(CustomerTag)
            .where(CustomerTag.customer_id == customer.id, CustomerTag.removed_at.is_(None))
            .order_by(CustomerTag.first_seen_at, CustomerTag.id)
        )
    )


def remove_tag(
    *, db_session: Session, customer: Customer | CustomerRef, tag: str, actor: str, reason: str
) -> bool:
    """Take a tag off a customer (a salesperson, an exclusive group, a group leave); True if it was on."""
    row = db_session.scalars(
        select(CustomerTag).where(
            CustomerTag.customer_id == customer.id,
            CustomerTag.tag == tag,
            CustomerTag.removed_at.is_(None),
        )
    ).one_or_none()
    if row is None:
        return False
    if row.override == "locked" and actor == "system":
        return False  # a person locked it: no automatic source takes it off
    row.removed_at = utcnow()
    row.removed_by = actor
    enqueue(
        db_session=db_session, tenant_id=customer.tenant_id, event_type="tag.removed",
        customer_external_id=customer.external_id, data={"tag": tag, "removed_by": actor, "reason": reason},
    )  # fmt: skip
    db_session.flush()
    return True


def _tag_row(db_session: Session, customer: Customer, tag: str, *, on: bool) -> CustomerTag | None:
    stmt = select(CustomerTag).where(CustomerTag.customer_id == customer.id, CustomerTag.tag == tag)
    if on:
        stmt = stmt.where(CustomerTag.removed_at.is_(None))
    return db_session.scalars(stmt).one_or_none()


def remove_by_person(
    *, db_session: Session, customer: Customer, tag: str, actor: str, reason: str
) -> bool:
    """A person takes a tag off: removed, and overridden so no automatic source puts it back."""
    if not remove_tag(
        db_session=db_session, customer=customer, tag=tag, actor=actor, reason=reason
    ):
        return False
    row = _tag_row(db_session, customer, tag, on=False)
    assert row is not None
    _override(row, "removed", actor, reason)
    return True


def _override(row: CustomerTag, kind: str, actor: str, reason: str) -> None:
    row.override, row.override_by, row.override_at, row.override_reason = (
        kind,
        actor,
        utcnow(),
        reason,
    )


def lock_tag(*, db_session: Session, customer: Customer, tag: str, actor: str, reason: str) -> bool:
    """A person locks a tag that is on: no automatic source takes it off. False: not on."""
    row = _tag_row(db_session, customer, tag, on=True)
    if row is None:
        return False
    _override(row, "locked", actor, reason)
    return True


def confirm_tag(*, db_session: Session, customer: Customer, tag: str, actor: str) -> bool:
    """A person checked the tag and its evidence and found it right. False: not on."""
    row = _tag_row(db_session, customer, tag, on=True)
    if row is None:
        return False
    row.confirmed_by, row.confirmed_at = actor, utcnow()
    return True


def clear_override(*, db_session: Session, customer: Customer, tag: str) -> str | None:
    """An admin clears a removal or lock (automatic sources act again); the override cleared."""
    row = _tag_row(db_session, customer, tag, on=False)
    if row is None or row.override is None:
        return None
    cleared = row.override
    row.override = row.override_by = row.override_at = row.override_reason = None
    return cleared


def replace_in_group(
    *, db_session: Session, customer: Customer | CustomerRef, tag: str, group_tags: set[str]
) -> list[str]:
    """Exclusive groups: putting ``tag`` on removes the group's other tags (小学 → 初中)."""
    removed = []
    for other in active_tags(db_session=db_session, customer=customer):
        if other.tag != tag and other.tag in group_tags:
            if remove_tag(db_session=db_session, customer=customer, tag=other.tag, actor="system",
                          reason=f"replaced by {tag} (exclusive group)"):  # fmt: skip
                removed.append(other.tag)  # a locked tag stays, and is not reported removed
    return removed


def record_aggregate_hits(
    *, db_session: Session, customer: Customer, hit: AggregateHit, window_days: int, min_hits: int,
    exclusive: set[str] | None = None,
) -> bool:  # fmt: skip
    """Keep this conversation's matches of an aggregate rule; put the tag on once the customer's
    distinct matching messages within the window reach ``min_hits``. True when newly added."""
    known = set(
        db_session.scalars(
            select(TagHit.hit_key).where(
                TagHit.customer_id == customer.id, TagHit.rule_id == hit.rule_id
            )
        )
    )
    for key, ts, ev in hit.hits:
        if key not in known:
            conversation_id = key.split("/", 1)[0]
            db_session.add(TagHit(tenant_id=customer.tenant_id, customer_id=customer.id, rule_id=hit.rule_id, hit_key=key,
                                  ts=ts, evidence={**ev.to_dict(), "conversation_id": conversation_id}))  # fmt: skip
    db_session.flush()
    rows = db_session.scalars(
        select(TagHit).where(TagHit.customer_id == customer.id, TagHit.rule_id == hit.rule_id)
    ).all()
    inside = reached([(r.hit_key, r.ts) for r in rows], window_days, min_hits)
    if inside is None:
        return False
    by_key = {r.hit_key: r for r in rows}
    added = add_tag(db_session=db_session, customer=customer, tag=hit.tag, source="aggregate", rule_id=hit.rule_id,
                    rule_version=hit.rule_version, evidence=[by_key[k].evidence for k in inside])  # fmt: skip
    if added and exclusive:
        replace_in_group(
            db_session=db_session, customer=customer, tag=hit.tag, group_tags=exclusive
        )
    return added
