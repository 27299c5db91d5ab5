"""API shapes for conversations: ingest answers and the stored conversation with its findings."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field


class ErrorBody(BaseModel):
    """The one error shape's inner object."""

    code: str
    message: str
    field: str | None = None
    record_id: str | None = None
    rule_id: str | None = None
    error_id: str | None = None


class ErrorOut(BaseModel):
    """``{"error": {...}}``."""

    error: ErrorBody


class IngestRequest(BaseModel):
    """``{"records": [...]}``: each record is validated on its own (see the record contract)."""

    records: list[Any] = Field(min_length=1, max_length=1000)


class RecordAnswerOut(BaseModel):
    """The answer for one record."""

    id: str | None
    status: str = Field(description="accepted | unchanged | rejected")
    error: ErrorBody | None = None
    conversation_status: str | None = Field(
        None, description="pending (queued for deep analysis) for accepted records"
    )
    alerts: int = Field(0, description="alerts raised by the record's new messages")


class AppendRequest(BaseModel):
    """``{"messages": [...]}``, each a message of the record contract."""

    messages: list[Any] = Field(min_length=1, max_length=1000)


class AppendResponse(BaseModel):
    """What an append did."""

    id: str
    appended: int
    unchanged: int
    alerts: int = Field(description="alerts raised by the new messages (published on the stream)")


class CloseResponse(BaseModel):
    """What a close did."""

    id: str
    closed: bool
    already_closed: bool


class IngestResponse(BaseModel):
    """Per-record answers, in request order."""

    results: list[RecordAnswerOut]


class MessageOut(BaseModel):
    """A stored message."""

    id: str
    seq: int
    role: str
    type: str
    text: str
    ts: datetime | None
    start: float | None = None
    """Call segments: seconds from the start of the audio."""
    end: float | None = None
    source: str | None = None
    """``asr`` for a message the service transcribed from the call's audio."""
    confidence: float | None = None
    """Machine-transcribed messages: the model's confidence, 0–1."""

    @classmethod
    def of(cls, m: Any) -> MessageOut:
        """From a stored ``Message`` (the call fields come from its ``extra``)."""
        extra = m.extra or {}
        return cls(id=m.external_id, seq=m.seq, role=m.role, type=m.type, text=m.text, ts=m.ts,
                   start=extra.get("start"), end=extra.get("end"), source=extra.get("source"),
                   confidence=extra.get("confidence"))  # fmt: skip


class EvidenceOut(BaseModel):
    """Where a violation was seen."""

    kind: str
    message_id: str | None = None
    role: str | None = None
    start: int | None = None
    end: int | None = None
    text: str | None = None
    t_start: float | None = None
    t_end: float | None = None
    value: float | None = None
    unit: str | None = None
    message_ids: list[str] | None = None


class ViolationBrief(BaseModel):
    """A violation as shown on its conversation."""

    id: int
    rule_id: str
    rule_version: int
    severity: str
    status: str
    created_at: datetime
    evidence: list[EvidenceOut]


class ScoreOut(BaseModel):
    """The conversation's scorecard."""

    score: int
    pass_mark: int
    passed: bool
    complete: bool
    items: list[dict[str, Any]]


class StageErrorOut(BaseModel):
    """A failed stage of the last analysis."""

    stage: str
    message: str


class ConversationOut(BaseModel):
    """A stored conversation: status, stage errors, messages and findings."""

    id: str
    tenant: str
    channel: str
    status: str = Field(description="pending | analysed | failed")
    closed: bool
    employee_id: str
    customer_id: str
    started_at: datetime | None
    analysed_at: datetime | None
    stage_errors: list[StageErrorOut]
    messages: list[MessageOut]
    violations: list[ViolationBrief]
    score: ScoreOut | None
