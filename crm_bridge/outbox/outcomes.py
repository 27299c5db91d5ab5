"""What one delivery attempt did: the event's new status, its retry time, the log line.

Why apart from the dispatcher's loop: the mapping from an adapter's error to the outbox row
(delivered, failed with back-off, dead, skipped, or paced — the attempt given back) is the
bridge's retry policy; the dispatcher only claims, calls and records.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import tenacity

from crm_bridge.adapters.base import (
    BudgetExhausted,
    DeliveryError,
    PermanentDeliveryError,
    RetryableDeliveryError,
    SkipDelivery,
)
from crm_bridge.outbox.models import OutboxEvent
from crm_bridge.settings import BridgeSettings

log = logging.getLogger("crm_bridge.dispatcher")  # the dispatcher's lines, under one name
MAX_ERROR_CHARS = 2000


def retry_delay(attempt: int, settings: BridgeSettings) -> float:
    """Seconds before retry ``attempt + 1``: tenacity's exponential wait plus jitter, capped."""
    base, cap = settings.outbox_retry_base_seconds, settings.outbox_retry_max_seconds
    strategy = tenacity.wait_exponential(multiplier=base, max=cap) + tenacity.wait_random(0, base)
    state = tenacity.RetryCallState(tenacity.Retrying(), fn=None, args=(), kwargs={})
    state.attempt_number = attempt
    return min(float(strategy(state)), cap)


@dataclass(frozen=True, slots=True)
class Attempt:
    """The outcome of one delivery attempt (``status`` is the event's status afterwards)."""

    pk: int
    event_id: str
    event_type: str
    ordering_key: str
    adapter: str
    status: str
    attempts: int
    error: str | None
    next_attempt_at: datetime | None
    paced: bool = False
    """The adapter's call budget had no room: the pass stops (the event waits, uncounted)."""
    carried: int = 1
    """Events this one call carried (coalesced by the adapter)."""


@dataclass(slots=True)
class DispatchReport:
    """What one ``dispatch_once`` pass did, in order."""

    attempts: list[Attempt] = field(default_factory=list)

    def count(self, status: str) -> int:
        """How many attempts left their event in ``status``."""
        return sum(1 for a in self.attempts if a.status == status)

    @property
    def delivered(self) -> int:
        """Events delivered in this pass."""
        return self.count("delivered")

    @property
    def failed(self) -> int:
        """Events that failed and will be retried."""
        return self.count("failed")

    @property
    def dead(self) -> int:
        """Events dead-lettered in this pass."""
        return self.count("dead")


def record_outcome(
    row: OutboxEvent, error: DeliveryError | None, settings: BridgeSettings, when: datetime
) -> None:
    if error is None:
        row.status, row.delivered_at, row.next_attempt_at = "delivered", when, None
        return
    row.last_error = error.message[:MAX_ERROR_CHARS]
    if isinstance(error, SkipDelivery):
        row.status, row.next_attempt_at = "skipped", None
        return
    if isinstance(error, BudgetExhausted):  # pacing: the attempt is given back, not failed
        row.attempts -= 1
        row.next_attempt_at = when + timedelta(seconds=error.retry_after or 1.0)
        return
    if isinstance(error, PermanentDeliveryError) or row.attempts >= settings.outbox_max_attempts:
        row.status, row.next_attempt_at = "dead", None
        return
    row.status = "failed"
    delay = retry_delay(row.attempts, settings)
    if isinstance(error, RetryableDeliveryError) and error.retry_after:
        delay = max(delay, error.retry_after)
    row.next_attempt_at = when + timedelta(seconds=delay)


def log_attempt(attempt: Attempt) -> None:
    what = f"outbox event {attempt.event_id} ({attempt.event_type}, {attempt.ordering_key})"
    via = f"via {attempt.adapter}, attempt {attempt.attempts}"
    if attempt.status == "delivered":
        extra = f" (with {attempt.carried - 1} coalesced)" if attempt.carried > 1 else ""
        log.info("delivered %s %s%s", what, via, extra)
    elif attempt.status == "skipped":
        log.info("skipped %s %s: %s", what, via, attempt.error)
    elif attempt.paced:
        log.info("%s waits for the call budget until %s", what, attempt.next_attempt_at)
    elif attempt.status == "failed":
        log.warning(
            "%s failed %s, retry at %s: %s", what, via, attempt.next_attempt_at, attempt.error
        )
    else:
        log.error("%s dead-lettered %s: %s", what, via, attempt.error)
