"""The audit hash chain: canonical JSON of an event and SHA-256 over it and the previous hash.

Pure functions, shared by the writer (``audit.service``), ``qc audit verify`` and the migration
that chains events written before the chain existed: all three must compute the same bytes.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

GENESIS = "0" * 64
"""The "previous hash" of the first event."""


def canonical(
    *,
    tenant_id: str,
    actor: str | None,
    action: str,
    entity_type: str,
    entity_id: str,
    reason: str | None,
    before: Any,
    after: Any,
    created_at: datetime,
) -> str:
    """The event as sorted, compact JSON; times in UTC with microseconds."""
    at = created_at.astimezone(UTC) if created_at.tzinfo else created_at.replace(tzinfo=UTC)
    doc = {
        "tenant": tenant_id, "actor": actor, "action": action, "object_type": entity_type,
        "object_id": entity_id, "reason": reason, "before": before, "after": after,
        "at": at.isoformat(timespec="microseconds"),
    }  # fmt: skip
    return json.dumps(doc, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def link(prev_hash: str, canonical_json: str) -> str:
    """SHA-256 (hex) over the previous hash and the event's canonical JSON."""
    return hashlib.sha256((prev_hash + canonical_json).encode("utf-8")).hexdigest()


def event_hash(prev_hash: str, event: Any) -> str:
    """The hash an ``AuditEvent``-like object must carry after ``prev_hash``."""
    return link(prev_hash, canonical(
        tenant_id=event.tenant_id, actor=event.actor, action=event.action,
        entity_type=event.entity_type, entity_id=event.entity_id, reason=event.reason,
        before=event.before, after=event.after, created_at=event.created_at,
    ))  # fmt: skip


@dataclass(frozen=True, slots=True)
class ChainReport:
    """What ``verify`` found: how many events, and the first bad one (None: intact)."""

    count: int
    bad_id: int | None = None
    problem: str | None = None

    @property
    def intact(self) -> bool:
        """True when every event links to the one before and hashes to what it stores."""
        return self.bad_id is None


def verify(events: Any) -> ChainReport:
    """Walk events in id order; the first whose links or hash do not match is reported."""
    prev = GENESIS
    count = 0
    for event in events:
        count += 1
        if event.prev_hash != prev:
            return ChainReport(count, event.id, "its previous hash does not match the event before")
        if event.hash != event_hash(prev, event):
            return ChainReport(count, event.id, "its content does not match its hash")
        prev = event.hash
    return ChainReport(count)
