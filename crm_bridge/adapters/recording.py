"""The ``recording`` adapter: keeps delivered events in memory, and fails on request.

Why it ships: tests of the dispatcher (here and in the service) need a real adapter behind the
real entry point whose deliveries they can inspect and whose failures they can script.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from typing import Any, Literal

from sqlalchemy.orm import Session

from crm_bridge.adapters.base import CrmAdapter, PermanentDeliveryError, RetryableDeliveryError

FailureKind = Literal["retryable", "permanent"]


class RecordingAdapter(CrmAdapter):
    """Appends each delivered envelope to ``delivered``; ``fail(...)`` queues failures first.

    ``fail_when`` (optional) fails every event it returns a kind for, e.g. one customer's.
    """

    slug = "recording"

    def __init__(self) -> None:
        self.delivered: list[dict[str, Any]] = []
        self.attempts: list[dict[str, Any]] = []
        self._failures: deque[FailureKind] = deque()
        self._lock = threading.Lock()
        self.fail_when: Callable[[dict[str, Any]], FailureKind | None] | None = None

    def fail(self, times: int = 1, kind: FailureKind = "retryable") -> None:
        """The next ``times`` deliveries (of any event) raise ``kind`` errors."""
        with self._lock:
            self._failures.extend([kind] * times)

    def deliver(self, event: dict[str, Any], *, db_session: Session) -> None:  # noqa: ARG002
        """Record the event, or raise the next scripted failure."""
        with self._lock:
            self.attempts.append(event)
            kind: FailureKind | None = self._failures.popleft() if self._failures else None
            if kind is None and self.fail_when is not None:
                kind = self.fail_when(event)
            if kind == "retryable":
                raise RetryableDeliveryError(
                    f"recording adapter: scripted failure of {event['id']}"
                )
            if kind == "permanent":
                raise PermanentDeliveryError(
                    f"recording adapter: scripted refusal of {event['id']}"
                )
            self.delivered.append(event)

    def delivered_ids(self) -> list[str]:
        """Ids of the delivered events, in delivery order."""
        with self._lock:
            return [e["id"] for e in self.delivered]
