"""What a serving process runs with: the store, the deep lane and the alert hub.

Why one object: the ingest service must publish alerts and hand conversations to the deep lane
only after its transaction commits; routers pass this along instead of reaching for globals.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from qc_service.alerts.hub import LocalHub
from qc_service.pipeline.lanes import DeepLane
from qc_service.store import Store


@dataclass(slots=True)
class Runtime:
    """Store + deep lane + alert hub of one process."""

    store: Store
    lane: DeepLane
    hub: LocalHub

    def after_commit(self, events: list[dict[str, Any]], conversation_pks: list[int]) -> None:
        """Publish alerts, then queue deep analysis (both only after the data is committed)."""
        for event in events:
            self.hub.publish(event)
        for pk in conversation_pks:
            self.lane.submit(pk)
