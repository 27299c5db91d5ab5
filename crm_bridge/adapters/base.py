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
    """Try again later (with backoff, until ``outbox_max_attempts``)."""


class PermanentDeliveryError(DeliveryError):
    """Trying again cannot help: dead-letter the event at once (``replay`` after a fix)."""


class AdapterUnavailable(RetryableDeliveryError):
    """The tenant's adapter is unknown, fails to load or is not configured (retried: an operator
    can fix the configuration before the event is dead-lettered)."""


class CrmAdapter(ABC):
    """Delivers outbox envelopes ``{"id", "type", "occurred_at", "tenant", "data"}`` to one CRM.

    ``deliver`` runs inside the dispatcher's transaction (``db_session``), in a SAVEPOINT that is
    rolled back if it raises: adapters that write to the service's database (``local``) are
    exactly-once; remote adapters must treat ``event["id"]`` as the idempotency key, because an
    event is re-delivered when the process dies between the call and the commit.
    """

    slug: ClassVar[str]
    """The name tenants select the adapter by (the entry point's name)."""

    @classmethod
    def from_settings(cls, settings: BridgeSettings) -> Self:  # noqa: ARG003 (hook)
        """Build the adapter from the bridge settings (override to read a typed config)."""
        return cls()

    @abstractmethod
    def deliver(self, event: dict[str, Any], *, db_session: Session) -> None:
        """Deliver one event or raise ``RetryableDeliveryError`` / ``PermanentDeliveryError``."""

    def close(self) -> None:  # noqa: B027 (optional hook, not abstract)
        """Release connections (HTTP clients); the default holds none."""
