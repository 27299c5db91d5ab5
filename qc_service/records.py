"""The record contract of ARCHITECTURE.md as Pydantic models, and its error messages.

Why Pydantic here: one definition validates JSON Lines files, the HTTP API and the OpenAPI
spec alike, and its error locations become the ``field`` paths users see
(``employee.id``, ``messages[3].role``). Unknown fields are kept, never rejected.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from qc_service.rules.model import Conversation, Message, char_times

Channel = Literal["wechat", "wecom", "sms", "im", "call"]
MsgRole = Literal["agent", "customer", "system"]
MsgType = Literal["text", "image", "voice", "file", "link", "red_packet", "transfer", "recall"]
NonEmpty = Field(min_length=1)


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow", str_strip_whitespace=False)


class EmployeeIn(_Open):
    """The agent who owns the conversation."""

    id: str = NonEmpty
    name: str | None = None
    team: str | None = None
    supervisor_id: str | None = None


class CustomerIn(_Open):
    """The customer, with the external ids the CRM knows."""

    id: str = NonEmpty
    name: str | None = None
    phone: str | None = None
    unionid: str | None = None
    crm_id: str | None = None


class MessageIn(_Open):
    """One chat message."""

    id: str = NonEmpty
    role: MsgRole
    type: MsgType = "text"
    text: str = ""
    ts: datetime | None = None


class SegmentIn(_Open):
    """One transcript segment of a call (seconds from the start of the audio)."""

    role: MsgRole
    start: float = Field(ge=0)
    end: float = Field(ge=0)
    text: str = ""

    @model_validator(mode="after")
    def _ordered(self) -> SegmentIn:
        if self.end < self.start:
            raise ValueError("segment end is before its start")
        return self


class CallIn(_Open):
    """A call: audio file (optional until the audio stage exists) and transcript segments."""

    audio: str | None = None
    channels: dict[str, int] | None = None
    segments: list[SegmentIn] = Field(default_factory=list)


class RecordIn(_Open):
    """One conversation record (a JSON Lines line, or an item of ``{"records": [...]}``)."""

    id: str = NonEmpty
    channel: Channel
    tenant: str = "default"
    employee: EmployeeIn
    customer: CustomerIn
    started_at: datetime | None = None
    messages: list[MessageIn] | None = None
    call: CallIn | None = None
    closed: bool | None = None

    @model_validator(mode="before")
    @classmethod
    def _needs_content(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("messages") is None and data.get("call") is None:
            raise ValueError("a record needs messages or call")
        return data

    @model_validator(mode="after")
    def _unique_ids(self) -> RecordIn:
        seen: set[str] = set()
        for m in self.messages or []:
            if m.id in seen:
                raise ValueError(f"message id {m.id!r} appears twice")
            seen.add(m.id)
        return self

    def all_messages(self) -> list[MessageIn]:
        """Chat messages, or the call's segments as messages ``seg-0``, ``seg-1``, …"""
        out = list(self.messages or [])
        if self.call is not None:
            for i, seg in enumerate(self.call.segments):
                ts = self.started_at + timedelta(seconds=seg.start) if self.started_at else None
                seg_message = {"id": f"seg-{i}", "role": seg.role, "text": seg.text, "ts": ts}
                out.append(
                    MessageIn.model_validate({**seg_message, "start": seg.start, "end": seg.end})
                )
        return out

    def extra_fields(self) -> dict[str, Any]:
        """Unknown top-level fields, kept as they came."""
        return dict(self.model_extra or {})


class RecordError(Exception):
    """A record that cannot be accepted, with where and why."""

    def __init__(
        self, message: str, *, record_id: str | None, field: str | None, line: int | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.record_id = record_id
        self.field = field
        self.line = line

    def to_dict(self) -> dict[str, Any]:
        """The ``error`` findings-line fields."""
        return {
            "line": self.line,
            "record_id": self.record_id,
            "field": self.field,
            "message": self.message,
        }


def _loc_to_path(loc: tuple[Any, ...]) -> str:
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += ("." if path else "") + str(part)
    return path


SERVER_OWNED = frozenset({"status", "score", "reviewer", "decided_at"})
"""Fields the service sets and an API client may not (ACCESS.md: request bodies): refused over
HTTP, not silently dropped. Files (``qc ingest``, ``qc analyze``) keep unknown fields."""


def surrogate_path(value: Any, path: str = "") -> str | None:
    """The path of the first string holding a lone surrogate (``"\\ud800"`` is valid JSON but not
    text: no database stores it and no analysis can read it), or None."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return path or "(value)"
        return None
    if isinstance(value, dict):
        for key, item in value.items():
            found = surrogate_path(item, f"{path}.{key}" if path else str(key))
            if found:
                return found
    elif isinstance(value, list):
        for i, item in enumerate(value):
            found = surrogate_path(item, f"{path}[{i}]")
            if found:
                return found
    return None


def server_owned_field(data: Any) -> str | None:
    """The path of the first server-owned field in a record or its messages, if any."""
    if not isinstance(data, dict):
        return None
    for key in data:
        if key in SERVER_OWNED:
            return str(key)
    messages = data.get("messages")
    if isinstance(messages, list):
        for i, m in enumerate(messages):
            if isinstance(m, dict):
                found = next((k for k in m if k in SERVER_OWNED), None)
                if found:
                    return f"messages[{i}].{found}"
    return None


def parse_record(data: Any, *, line: int | None = None) -> RecordIn:
    """Validate one record; raise ``RecordError`` naming the record id and the field path."""
    record_id = data.get("id") if isinstance(data, dict) else None
    if not isinstance(data, dict):
        raise RecordError("a record must be a JSON object", record_id=None, field=None, line=line)
    broken = surrogate_path(data)
    if broken is not None:
        raise RecordError("not valid Unicode text (a lone surrogate)", field=broken, line=line,
                          record_id=record_id if isinstance(record_id, str) else None)  # fmt: skip
    try:
        return RecordIn.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        path = _loc_to_path(tuple(err["loc"]))
        kind = err["type"]
        message = "missing required field" if kind == "missing" else err["msg"]
        if kind == "value_error" and not path:
            message = err["msg"].removeprefix("Value error, ")
            if "messages or call" in message:
                path = "messages"
        return_id = record_id if isinstance(record_id, str) else None
        raise RecordError(message, record_id=return_id, field=path or None, line=line) from None


def to_conversation(record: RecordIn, *, final: bool = True) -> Conversation:
    """The rule engine's view of a record."""
    msgs = [
        Message(
            m.id,
            m.role,
            m.text,
            m.type,
            m.ts,
            (m.model_extra or {}).get("start"),
            (m.model_extra or {}).get("end"),
            char_times(m.text, words) if (words := (m.model_extra or {}).get("words")) else None,
        )
        for m in record.all_messages()
    ]
    return Conversation(
        id=record.id,
        channel=record.channel,
        messages=msgs,
        customer_id=record.customer.id,
        employee_id=record.employee.id,
        team=record.employee.team,
        final=final,
    )
