"""Conversations as stored: idempotent merge of records by id, and the rule engine's view.

Why merge by message id: senders retry and re-send whole records; a known message is left
alone, a new one is appended, and a known id with different text is a conflict the sender must
see — silently keeping either version would lose evidence.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from qc_service.conversations.models import Conversation, Message
from qc_service.customers.service import upsert_customer
from qc_service.db.base import utcnow
from qc_service.errors import Conflict, NotFound
from qc_service.records import MessageIn, RecordIn
from qc_service.rules import model as rm
from qc_service.tenancy.service import get_or_create_tenant, upsert_employee

Outcome = Literal["accepted", "unchanged"]


@dataclass(slots=True)
class MergeResult:
    """What storing one record did."""

    conversation: Conversation
    outcome: Outcome
    new_messages: list[Message]


def aware(ts: datetime | None, tz: str) -> datetime | None:
    """A timestamp without an offset is read in the tenant's time zone."""
    if ts is None or ts.tzinfo is not None:
        return ts
    return ts.replace(tzinfo=ZoneInfo(tz))


def get_by_external_id(
    *, db_session: Session, tenant_id: str, external_id: str
) -> Conversation | None:
    """A conversation by its record id."""
    return db_session.scalars(
        select(Conversation)
        .where(Conversation.tenant_id == tenant_id, Conversation.external_id == external_id)
        .options(selectinload(Conversation.messages))
    ).one_or_none()


def get_or_raise(*, db_session: Session, tenant_id: str, external_id: str) -> Conversation:
    """A conversation by its record id, or NotFound."""
    conv = get_by_external_id(db_session=db_session, tenant_id=tenant_id, external_id=external_id)
    if conv is None:
        raise NotFound(f"conversation {external_id!r} not found", record_id=external_id)
    return conv


def _message_row(m: MessageIn, seq: int, tz: str) -> Message:
    extra = dict(m.model_extra or {})
    return Message(
        external_id=m.id,
        seq=seq,
        role=m.role,
        type=m.type,
        text=m.text,
        ts=aware(m.ts, tz),
        extra=extra,
    )


def merge_record(*, db_session: Session, record: RecordIn, final: bool, tz: str) -> MergeResult:
    """Store a record: create the conversation, or append its new messages.

    Raises Conflict (nothing written) when a known message id arrives with different text.
    """
    tenant_id = record.tenant
    get_or_create_tenant(db_session=db_session, tenant_id=tenant_id)
    employee = upsert_employee(db_session=db_session, tenant_id=tenant_id, data=record.employee)
    customer = upsert_customer(
        db_session=db_session,
        tenant_id=tenant_id,
        data=record.customer,
        owner=record.employee.id,
        seen_at=aware(record.started_at, tz) if record.started_at else None,
    )
    incoming = record.all_messages()
    conv = get_by_external_id(db_session=db_session, tenant_id=tenant_id, external_id=record.id)
    closed = final or bool(record.closed)
    if conv is None:
        conv = Conversation(
            tenant_id=tenant_id, external_id=record.id, channel=record.channel, employee_id=employee.id,
            customer_id=customer.id, started_at=aware(record.started_at, tz), status="pending", closed=closed,
            stage_errors=[], call=record.call.model_dump(mode="json") if record.call else None,
            extra=record.extra_fields(),
        )  # fmt: skip
        db_session.add(conv)
        db_session.flush()
        rows = [_message_row(m, i, tz) for i, m in enumerate(incoming)]
        for row in rows:
            row.conversation_id = conv.id
            db_session.add(row)
        conv.last_message_at = utcnow()
        mark_changed(conv)
        db_session.flush()
        db_session.refresh(conv, ["messages"])
        return MergeResult(conv, "accepted", rows)
    changed_rows = append_messages(
        db_session=db_session, conv=conv, incoming=incoming, tz=tz, record_id=record.id
    )
    reclosed = closed and not conv.closed
    if not changed_rows and not reclosed:
        return MergeResult(conv, "unchanged", [])
    if record.extra_fields():
        conv.extra = {**(conv.extra or {}), **record.extra_fields()}
    conv.closed = closed
    mark_changed(conv)
    db_session.flush()
    return MergeResult(conv, "accepted", changed_rows)


def mark_changed(conv: Conversation) -> None:
    """The conversation needs (re-)analysis: pending, with a new revision."""
    conv.status = "pending"
    conv.revision = (conv.revision or 0) + 1


def append_messages(
    *, db_session: Session, conv: Conversation, incoming: list[MessageIn], tz: str, record_id: str
) -> list[Message]:
    """Append the messages not stored yet; a known id with different content is a Conflict.

    Nothing is written when a conflict is found.
    """
    known = {m.external_id: m for m in conv.messages}
    new: list[MessageIn] = []
    for i, m in enumerate(incoming):
        stored = known.get(m.id)
        if stored is None:
            if m.id not in {n.id for n in new}:
                new.append(m)
        elif stored.text != m.text or stored.role != m.role:
            what = "text" if stored.text != m.text else "role"
            raise Conflict(
                f"message {m.id!r} is already stored with different {what}",
                field=f"messages[{i}].{what}",
                record_id=record_id,
            )
    if not new:
        return []
    last_seq = db_session.scalar(
        select(func.max(Message.seq)).where(Message.conversation_id == conv.id)
    )
    next_seq = 0 if last_seq is None else last_seq + 1
    rows = [_message_row(m, next_seq + i, tz) for i, m in enumerate(new)]
    for row in rows:
        row.conversation_id = conv.id
        db_session.add(row)
    conv.last_message_at = utcnow()
    db_session.flush()
    db_session.refresh(conv, ["messages"])
    return rows


def to_rule_conversation(conv: Conversation) -> rm.Conversation:
    """The rule engine's plain-data view of a stored conversation."""
    msgs = [
        rm.Message(
            m.external_id,
            m.role,
            m.text,
            m.type,
            m.ts,
            (m.extra or {}).get("start"),
            (m.extra or {}).get("end"),
            rm.char_times(m.text, m.extra["words"]) if (m.extra or {}).get("words") else None,
        )
        for m in conv.messages
    ]
    return rm.Conversation(
        id=conv.external_id,
        channel=conv.channel,
        messages=msgs,
        customer_id=conv.customer.external_id,
        employee_id=conv.employee.external_id,
        team=conv.employee.team,
        final=conv.closed,
    )
