"""Ingest records: validate and store each record in its own transaction (``store_record``);
``pipeline.files.ingest_one`` then analyses it in the calling process (``qc ingest``).

Why one transaction per record: a bad record in a batch is rejected with its id and field, and
nothing already accepted is lost. Storing commits before analysis starts, so a crash during
analysis leaves a ``pending`` conversation that a re-run (or the sweep) picks up.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from qc_service.conversations.service import merge_record
from qc_service.db.session import write_transaction
from qc_service.errors import QCError
from qc_service.records import RecordError, parse_record
from qc_service.rulesets.service import ensure_builtin_pack
from qc_service.store import Store


@dataclass(slots=True)
class RecordAnswer:
    """The per-record answer: accepted, unchanged or rejected (with the error)."""

    id: str | None
    status: str
    line: int | None = None
    error: dict[str, Any] | None = None
    conversation_status: str | None = None
    findings: dict[str, int] = field(default_factory=dict)
    alerts: int = 0

    def to_dict(self) -> dict[str, Any]:
        """API/CLI shape."""
        return {"id": self.id, "status": self.status, "line": self.line, "error": self.error,
                "conversation_status": self.conversation_status, "alerts": self.alerts}  # fmt: skip


def rejected(line: int | None, err: QCError | RecordError, record_id: str | None) -> RecordAnswer:
    if isinstance(err, RecordError):
        error = {
            "code": "RECORD_INVALID",
            "message": err.message,
            "field": err.field,
            "record_id": err.record_id,
            "rule_id": None,
        }
    else:
        error = err.to_dict()["error"]
    return RecordAnswer(record_id, "rejected", line, error)


def store_record(
    store: Store, data: Any, *, line: int | None = None, final: bool
) -> tuple[RecordAnswer, int | None]:
    """Validate and store one record in its own transaction; the answer, and the conversation's
    id when it changed and needs analysing (the caller hands it to a lane)."""
    try:
        record = parse_record(data, line=line)
    except RecordError as exc:
        return rejected(line, exc, exc.record_id), None
    try:
        with write_transaction(store.session_factory) as db_session:
            ensure_builtin_pack(db_session=db_session, tenant_id=record.tenant)
            merged = merge_record(
                db_session=db_session, record=record, final=final, tz=store.settings.timezone
            )
            pk = merged.conversation.id
            outcome = merged.outcome
    except QCError as exc:
        return rejected(line, exc, record.id), None
    return RecordAnswer(record.id, outcome, line), pk if outcome == "accepted" else None
