"""The one interface every CRM adapter implements, and the two ways a delivery can fail.

Why two error kinds: the dispatcher must know whether trying again can help (an outage, a rate
limit, a timeout) or cannot (the CRM refused the event); everything else about retries, ordering
and dead letters lives in the dispatcher, not in adapters.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar, Self

from sqlalchemy.orm import Session

from crm_bridge.settings import BridgeSettings


class DeliveryError(Exception):
    """A delivery did not happen; ``message`` is stored as the event's ``last_error``."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class RetryableDeliveryError(DeliveryError):
    """Try again later (with backoff, until ``outbox_max_attempts``); ``retry_after``: not before
    that many seconds (a CRM's ``Retry-After``, WeCom's one-minute budget window)."""

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class BudgetExhausted(RetryableDeliveryError):
    """The client-side call budget has no room now: the event waits ``retry_after`` seconds and
    the attempt is not counted (pacing is not a failure of the event)."""


class SkipDelivery(DeliveryError):
    """This CRM has nothing to do for the event (WeCom and ``violation.*``): settled as
    ``skipped`` with the reason — never retried, never dead, never blocking the customer."""


class PermanentDeliveryError(DeliveryError):
    """Trying again cannot help: dead-letter the event at once (``replay`` after a fix)."""


class AdapterUnavailable(RetryableDeliveryError):
    """The tenant's adapter is unknown, fails to load or is not configured (retried: an operator
    can fix the configuration before the event is dead-lettered)."""


class CrmAdapter(ABC):
    """Delivers outbox envelopes ``{"id", "type", "occurred_at", "tenant", "data"}`` to one CRM.

    An adapter that writes to the service's database (``local``: ``in_transaction = True``)
    delivers inside the transaction that records the outcome, in a SAVEPOINT rolled back if it
    raises: exactly-once. A remote adapter delivers outside any write transaction (the event is
    claimed first for ``QC_OUTBOX_CLAIM_SECONDS``), so a slow CRM never holds the database's
    write lock; ``db_session`` is then a read-only session. It must treat ``event["id"]`` as
    the idempotency key: an event is re-delivered when the process dies between the call and
    the recording of its outcome.
    """

    slug: ClassVar[str]
    """The name tenants select the adapter by (the entry point's name)."""
    in_transaction: ClassVar[bool] = False
    """Deliver inside the dispatcher's recording transaction (adapters that write our tables)."""

    def coalesce(self, first: dict[str, Any], following: dict[str, Any]) -> bool:  # noqa: ARG002
        """Whether ``following`` (the customer's next pending event) may go in one call with
        ``first`` (``deliver_many``); default never."""
        return False

    def deliver_many(self, events: list[dict[str, Any]], *, db_session: Session) -> None:
        """Deliver events ``coalesce`` put together, in one call; the outcome is every one's."""
        for event in events:
            self.deliver(event, db_session=db_session)

    @classmethod
    def from_settings(cls, settings: BridgeSettings) -> Self:  # noqa: ARG003 (hook)
        """Build the adapter from the bridge settings (override to read a typed config)."""
        return cls()

    @abstractmethod
    def deliver(self, event: dict[str, Any], *, db_session: Session) -> None:
        """Deliver one event or raise ``RetryableDeliveryError`` / ``PermanentDeliveryError``."""

    def close(self) -> None:  # noqa: B027 (optional hook, not abstract)
        """Release connections (HTTP clients); the default holds none."""
