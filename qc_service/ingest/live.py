"""Live ingest (the API): store, run the hot lane in the same transaction, then alert and queue.

Why not analyse here: the request returns as soon as the record is stored and the lexical red
lines are checked (the agent's warning); whole-conversation analysis runs on the deep lane.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import PurePosixPath
from typing import Any

from pydantic import TypeAdapter, ValidationError

from qc_service.conversations.models import Conversation
from qc_service.conversations.service import (
    append_messages,
    get_or_raise,
    mark_changed,
    merge_record,
)
from qc_service.db.base import utcnow
from qc_service.db.session import write_transaction
from qc_service.errors import QCError, RecordInvalid
from qc_service.identity.policy import TenantMismatch
from qc_service.ingest.service import RecordAnswer, rejected
from qc_service.records import (
    MessageIn,
    RecordError,
    parse_record,
    server_owned_field,
    surrogate_path,
)
from qc_service.rulesets.service import ensure_builtin_pack
from qc_service.runtime import Runtime

_MESSAGES = TypeAdapter(list[MessageIn])


def _lease(runtime: Runtime, conv: Conversation) -> None:
    conv.lease_until = utcnow() + timedelta(seconds=runtime.store.settings.task_visibility_seconds)


def ingest_record(runtime: Runtime, data: Any, *, tenant: str | None = None) -> RecordAnswer:
    """Validate and store one record; hot lane in the transaction; alert and queue after commit.

    ``tenant`` is the credential's: a record naming no tenant gets it, one naming another tenant
    is rejected with ``TENANT_MISMATCH`` and nothing of the other tenant is read or written."""
    if tenant is not None and isinstance(data, dict):
        named = data.get("tenant")
        data = {**data, "tenant": tenant if named is None else named}
        refused = _refused_over_http(data, tenant)
        if refused is not None:
            return rejected(None, refused, refused.record_id)
    try:
        record = parse_record(data)
    except RecordError as exc:
        return rejected(None, exc, exc.record_id)
    settings = runtime.store.settings
    try:
        with write_transaction(runtime.store.session_factory) as db_session:
            ensure_builtin_pack(db_session=db_session, tenant_id=record.tenant)
            merged = merge_record(
                db_session=db_session, record=record, final=False, tz=settings.timezone
            )
            events: list[dict[str, Any]] = []
            if merged.outcome == "accepted":
                new_ids = {m.external_id for m in merged.new_messages}
                events = runtime.lane.hot(
                    db_session=db_session, conv=merged.conversation, new_message_ids=new_ids
                )
                _lease(runtime, merged.conversation)
            pk = merged.conversation.id
    except QCError as exc:
        return rejected(None, exc, record.id)
    if merged.outcome == "accepted":
        runtime.after_commit(events, [pk])
    answer = RecordAnswer(
        record.id,
        merged.outcome,
        conversation_status="pending" if merged.outcome == "accepted" else None,
    )
    answer.alerts = len(events)
    return answer


def _refused_over_http(data: dict[str, Any], tenant: str) -> QCError | None:
    """What an API client may not send, though a file may: another tenant's record, a field the
    service owns, a recording outside the tenant's folder."""
    rid = data.get("id") if isinstance(data.get("id"), str) else None
    if data["tenant"] != tenant:
        return TenantMismatch(f"tenant {data['tenant']!r} is not the tenant of this credential",
                              field="tenant", record_id=rid)  # fmt: skip
    owned = server_owned_field(data)
    if owned is not None:
        return RecordInvalid(
            "set by the service; a request may not carry it", field=owned, record_id=rid
        )
    audio_error = _foreign_audio(data, tenant)
    if audio_error is not None:
        return RecordInvalid(audio_error, field="call.audio", record_id=rid)
    return None


def _foreign_audio(data: dict[str, Any], tenant: str) -> str | None:
    """Why an API record's ``call.audio`` is refused, or None. Over HTTP a recording must lie in
    the tenant's own folder of ``QC_DATA_DIR`` (``<tenant>/…``, as uploads are stored): no
    absolute path, no ``..``, nothing of another tenant's or of the server's other files."""
    call = data.get("call")
    audio = call.get("audio") if isinstance(call, dict) else None
    if not isinstance(audio, str) or not audio:
        return None
    parts = PurePosixPath(audio.replace("\\", "/")).parts
    if PurePosixPath(audio).is_absolute() or ":" in (parts[0] if parts else "") or ".." in parts:
        return f"must be a relative path inside QC_DATA_DIR/{tenant}/ (got {audio!r})"
    if not parts or parts[0] != tenant or len(parts) < 2:
        return f"must lie in the tenant's own folder: {tenant}/… (got {audio!r})"
    return None


def parse_messages(data: Any, record_id: str) -> list[MessageIn]:
    """Validate ``{"messages": [...]}`` items, naming the failing field."""
    broken = surrogate_path(data, "messages")
    if broken is not None:
        raise RecordInvalid(
            "not valid Unicode text (a lone surrogate)", field=broken, record_id=record_id
        )
    owned = server_owned_field({"messages": data}) if isinstance(data, list) else None
    if owned is not None:
        raise RecordInvalid(
            "set by the service; a message may not carry it", field=owned, record_id=record_id
        )
    try:
        return _MESSAGES.validate_python(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in err["loc"])
        message = "missing required field" if err["type"] == "missing" else err["msg"]
        raise RecordInvalid(message, field=f"messages{loc}", record_id=record_id) from None


def append(runtime: Runtime, *, tenant: str, conversation_id: str, messages: Any) -> dict[str, Any]:
    """Append messages as they are sent; an append reopens a closed conversation."""
    incoming = parse_messages(messages, conversation_id)
    with write_transaction(runtime.store.session_factory) as db_session:
        conv = get_or_raise(db_session=db_session, tenant_id=tenant, external_id=conversation_id)
        rows = append_messages(
            db_session=db_session, conv=conv, incoming=incoming, tz=runtime.store.settings.timezone,
            record_id=conversation_id,
        )  # fmt: skip
        events: list[dict[str, Any]] = []
        if rows:
            conv.closed = False
            mark_changed(conv)
            events = runtime.lane.hot(
                db_session=db_session, conv=conv, new_message_ids={m.external_id for m in rows}
            )
            _lease(runtime, conv)
        pk = conv.id
    if rows:
        runtime.after_commit(events, [pk])
    return {
        "id": conversation_id,
        "appended": len(rows),
        "unchanged": len(incoming) - len(rows),
        "alerts": len(events),
    }


def close(runtime: Runtime, *, tenant: str, conversation_id: str) -> dict[str, Any]:
    """Close a chat: its final analysis runs on the deep lane."""
    with write_transaction(runtime.store.session_factory) as db_session:
        conv = get_or_raise(db_session=db_session, tenant_id=tenant, external_id=conversation_id)
        already = conv.closed
        if not already:
            conv.closed = True
            mark_changed(conv)
            _lease(runtime, conv)
        pk = conv.id
    if not already:
        runtime.after_commit([], [pk])
    return {"id": conversation_id, "closed": True, "already_closed": already}
