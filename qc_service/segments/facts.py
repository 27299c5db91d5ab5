"""The store's answers to segment leaves, for every customer of a tenant at once (grouped SQL).

Why grouped queries and a server-side cursor: a run over a million customers must not load them
one by one; each fact is one query (first/last message per role, standing violations at their
first evidence message, tags, events), and ``said`` streams only the messages of its role in its
window through the rule engine in batches.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from qc_service.conversations.models import Conversation, Message
from qc_service.customers.models import Customer, CustomerEvent
from qc_service.review.models import Evidence, Violation
from qc_service.rules.compiled import LexicalIndex
from qc_service.rules.segment_model import SegLeaf
from qc_service.segments.leaves import EventRow, SaidRow, ViolationRow, said_counts, since
from qc_service.segments.models import Segment, SegmentMember
from qc_service.tagging.models import CustomerTag

CUSTOMER_COLUMNS = {
    "name": Customer.name, "phone": Customer.phone, "unionid": Customer.unionid,
    "crm_id": Customer.crm_id, "owner": Customer.owner_external_id,
    "external_id": Customer.external_id,
}  # fmt: skip
STREAM_ROWS = 5000


class StoreFacts:
    """``leaves.FactSource`` over the database, for one tenant at one ``as_of``."""

    def __init__(
        self,
        db_session: Session,
        tenant_id: str,
        as_of: datetime,
        shared: dict[str, Any] | None = None,
    ) -> None:
        self.db = db_session
        self.tenant_id = tenant_id
        self.as_of = as_of
        self.shared = {} if shared is None else shared
        """Facts no segment run changes (messages, violations, events, fields), kept across the
        segments of one run; tags and members are read afresh for each segment."""

    def _once(self, key: str, fetch: Any) -> Any:
        if key not in self.shared:
            self.shared[key] = fetch()
        return self.shared[key]

    def customers(self) -> set[int]:
        found: set[int] = self._once("customers", lambda: set(self.db.scalars(
            select(Customer.id).where(Customer.tenant_id == self.tenant_id))))  # fmt: skip
        return found

    def _message_spans(self) -> dict[tuple[int, str], tuple[datetime, datetime]]:
        spans: dict[tuple[int, str], tuple[datetime, datetime]] = self._once(
            "spans", self._read_spans
        )
        return spans

    def _read_spans(self) -> dict[tuple[int, str], tuple[datetime, datetime]]:
        rows = self.db.execute(
            select(Conversation.customer_id, Message.role, func.min(Message.ts), func.max(Message.ts))
            .join(Conversation, Conversation.id == Message.conversation_id)
            .where(Conversation.tenant_id == self.tenant_id, Message.ts <= self.as_of,
                   Message.role.in_(("agent", "customer")))
            .group_by(Conversation.customer_id, Message.role)
        )  # fmt: skip
        return {(c, r): (lo, hi) for c, r, lo, hi in rows if lo is not None and hi is not None}

    def first_seen(self) -> dict[int, datetime]:
        found: dict[int, datetime] = self._once("first_seen", self._first_seen)
        return found

    def _first_seen(self) -> dict[int, datetime]:
        out: dict[int, datetime] = {}
        for (c, _role), (lo, _hi) in self._message_spans().items():
            if c not in out or lo < out[c]:
                out[c] = lo
        return out

    def last_message(self, role: str) -> dict[int, datetime]:
        found: dict[int, datetime] = self._once(f"last:{role}", lambda: self._last(role))
        return found

    def _last(self, role: str) -> dict[int, datetime]:
        return {c: hi for (c, r), (_lo, hi) in self._message_spans().items() if r == role}

    def said_counts(self, leaves: list[SegLeaf], index: LexicalIndex) -> dict[str, dict[int, int]]:
        starts = [since(self.as_of, leaf.window_seconds) for leaf in leaves]
        stmt = (
            select(Conversation.customer_id, Message.conversation_id, Message.external_id,
                   Message.role, Message.text, Message.ts)
            .join(Conversation, Conversation.id == Message.conversation_id)
            .where(Conversation.tenant_id == self.tenant_id, Message.ts <= self.as_of,
                   Message.role.in_({leaf.params["role"] for leaf in leaves}), Message.text != "")
        )  # fmt: skip
        if all(s is not None for s in starts):
            stmt = stmt.where(Message.ts > min(s for s in starts if s is not None))

        def rows() -> Iterator[SaidRow]:
            result = self.db.execute(stmt.execution_options(yield_per=STREAM_ROWS))
            for c, conv, mid, role, text, ts in result:
                if ts is not None:
                    yield SaidRow(c, f"{conv}/{mid}", role, text, ts)

        return said_counts(rows(), leaves, index, self.as_of)

    def violations(self) -> list[ViolationRow]:
        found: list[ViolationRow] = self._once("violations", self._read_violations)
        return found

    def _read_violations(self) -> list[ViolationRow]:
        first = func.coalesce(func.min(Message.ts), Violation.created_at)
        rows = self.db.execute(
            select(Conversation.customer_id, Violation.rule_id, Violation.severity, first)
            .join(Conversation, Conversation.id == Violation.conversation_id)
            .outerjoin(Evidence, Evidence.violation_id == Violation.id)
            .outerjoin(Message, (Message.conversation_id == Violation.conversation_id)
                       & (Message.external_id == Evidence.message_external_id))
            .where(Violation.tenant_id == self.tenant_id, Violation.status != "overturned")
            .group_by(Violation.id, Conversation.customer_id, Violation.rule_id, Violation.severity,
                      Violation.created_at)
        )  # fmt: skip
        return [
            ViolationRow(c, r, s, ts) for c, r, s, ts in rows if ts is not None and ts <= self.as_of
        ]

    def tags(self) -> dict[int, dict[str, str]]:
        """The tags held at ``as_of``: put on by then and not taken off by then (a tag row keeps
        its last removal only, so a back-dated run sees the latest on/off period)."""
        out: dict[int, dict[str, str]] = {}
        rows = self.db.execute(
            select(CustomerTag.customer_id, CustomerTag.tag, CustomerTag.source).where(
                CustomerTag.tenant_id == self.tenant_id, CustomerTag.first_seen_at <= self.as_of,
                or_(CustomerTag.removed_at.is_(None), CustomerTag.removed_at > self.as_of),
            )
        )  # fmt: skip
        for c, tag, source in rows:
            out.setdefault(c, {})[tag] = source
        return out

    def attr(self, field: str) -> dict[int, Any]:
        found: dict[int, Any] = self._once(f"attr:{field}", lambda: self._read_attr(field))
        return found

    def _read_attr(self, field: str) -> dict[int, Any]:
        column = CUSTOMER_COLUMNS.get(field)
        base = select(Customer.id).where(Customer.tenant_id == self.tenant_id)
        if column is not None:
            return {c: v for c, v in self.db.execute(base.add_columns(column)) if v is not None}
        out: dict[int, Any] = {}
        for c, extra in self.db.execute(base.add_columns(Customer.extra)):
            extra = extra or {}
            value = (extra.get("values") or {}).get(field, extra.get(field))
            if value is not None:
                out[c] = value
        return out

    def events(self) -> list[EventRow]:
        found: list[EventRow] = self._once("events", self._read_events)
        return found

    def _read_events(self) -> list[EventRow]:
        rows = self.db.execute(
            select(CustomerEvent.customer_id, CustomerEvent.type, CustomerEvent.group_name,
                   CustomerEvent.data, CustomerEvent.ts)
            .where(CustomerEvent.tenant_id == self.tenant_id, CustomerEvent.ts <= self.as_of)
            .order_by(CustomerEvent.ts, CustomerEvent.id)
        )  # fmt: skip
        return [EventRow(c, t, g, d or {}, ts) for c, t, g, d, ts in rows]

    def members(self, segment_id: str) -> dict[int, datetime]:
        rows = self.db.execute(
            select(SegmentMember.customer_id, SegmentMember.entered_at)
            .join(Segment, Segment.id == SegmentMember.segment_pk)
            .where(Segment.tenant_id == self.tenant_id, Segment.segment_id == segment_id)
        )
        return dict(rows.all())
