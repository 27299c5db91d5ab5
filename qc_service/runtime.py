"""What a serving process runs with: the store, the deep lane and the alert hub.

Why one object: the ingest service must publish alerts and hand conversations to the deep lane
only after its transaction commits; routers pass this along instead of reaching for globals.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy.orm import Session

from qc_service.alerts.hub import LocalHub
from qc_service.store import Store


class Lane(Protocol):
    """What a domain may ask of the lanes (the kernel injects the pipeline's implementation):
    run the hot lane inside the caller's ingest transaction, and queue a deep run."""

    def hot(
        self, *, db_session: Session, conv: Any, new_message_ids: set[str]
    ) -> list[dict[str, Any]]:
        """Hot rules on the new messages; violations and alerts written in ``db_session``;
        returns the alert events to publish after the commit."""

    def submit(self, conversation_pk: int) -> None:
        """Queue one deep run (never blocks on the analysis)."""

    def close(self) -> None:
        """Stop accepting work (finish what is running)."""


@dataclass(slots=True)
class Runtime:
    """Store + deep lane + alert hub of one process."""

    store: Store
    lane: Lane
    hub: LocalHub

    def after_commit(self, events: list[dict[str, Any]], conversation_pks: list[int]) -> None:
        """Publish alerts, then queue deep analysis (both only after the data is committed)."""
        for event in events:
            self.hub.publish(event)
        for pk in conversation_pks:
            self.lane.submit(pk)
