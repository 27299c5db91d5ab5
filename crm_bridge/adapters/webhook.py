"""The ``webhook`` adapter: POSTs each envelope, signed, to one URL.

Why this contract: a receiver can authenticate the sender (HMAC over timestamp and body), reject
replays (timestamp tolerance) and de-duplicate (``Idempotency-Key`` = the envelope's ``id``,
identical on every re-delivery of the event). Status codes decide retry versus dead letter.
"""

from __future__ import annotations

import json
import time
from typing import Any, Self

import httpx
from pydantic import BaseModel, SecretStr
from sqlalchemy.orm import Session

from crm_bridge.adapters.base import (
    AdapterUnavailable,
    CrmAdapter,
    PermanentDeliveryError,
    RetryableDeliveryError,
)
from crm_bridge.settings import BridgeSettings
from crm_bridge.signing import sign

RETRYABLE_STATUSES = frozenset({408, 425, 429})
"""Client-error statuses that mean "later" rather than "never" (plus every 5xx)."""

_ERROR_BODY_CHARS = 200


class WebhookConfig(BaseModel):
    """Where and how to POST (from ``QC_WEBHOOK_URL``, ``QC_WEBHOOK_SECRET``, the timeout)."""

    url: str
    secret: SecretStr
    timeout_seconds: float = 5.0


def encode_body(event: dict[str, Any]) -> bytes:
    """The exact bytes posted and signed: compact JSON, Chinese unescaped, UTF-8."""
    return json.dumps(event, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def signed_headers(
    event: dict[str, Any], body: bytes, secret: str, *, now: float
) -> dict[str, str]:
    """Headers of one POST; ``Idempotency-Key`` is the envelope id, stable across retries."""
    timestamp = str(int(now))
    return {
        "Content-Type": "application/json",
        "X-QC-Timestamp": timestamp,
        "X-QC-Signature": sign(secret, timestamp, body),
        "Idempotency-Key": str(event["id"]),
    }


class WebhookAdapter(CrmAdapter):
    """2xx delivered; 408/425/429/5xx, timeouts and connection errors retried; else dead."""

    slug = "webhook"

    def __init__(self, config: WebhookConfig) -> None:
        self.config = config
        self._client = httpx.Client(timeout=config.timeout_seconds, follow_redirects=False)

    @classmethod
    def from_settings(cls, settings: BridgeSettings) -> Self:
        """Needs ``QC_WEBHOOK_URL`` and ``QC_WEBHOOK_SECRET`` (unsigned posts are not offered)."""
        if not settings.webhook_url or settings.webhook_secret is None:
            raise AdapterUnavailable(
                "webhook adapter needs QC_WEBHOOK_URL and QC_WEBHOOK_SECRET to be set"
            )
        return cls(
            WebhookConfig(
                url=settings.webhook_url,
                secret=settings.webhook_secret,
                timeout_seconds=settings.webhook_timeout_seconds,
            )
        )

    def deliver(self, event: dict[str, Any], *, db_session: Session) -> None:  # noqa: ARG002
        """POST the envelope; map the outcome to delivered / retryable / permanent."""
        body = encode_body(event)
        headers = signed_headers(
            event, body, self.config.secret.get_secret_value(), now=time.time()
        )
        try:
            response = self._client.post(self.config.url, content=body, headers=headers)
        except httpx.TimeoutException as exc:
            raise RetryableDeliveryError(
                f"timeout after {self.config.timeout_seconds:g}s: {type(exc).__name__}"
            ) from exc
        except httpx.TransportError as exc:
            raise RetryableDeliveryError(f"connection error: {type(exc).__name__}: {exc}") from exc
        status = response.status_code
        if 200 <= status < 300:
            return
        detail = f"HTTP {status}: {response.text[:_ERROR_BODY_CHARS]}"
        if status >= 500 or status in RETRYABLE_STATUSES:
            raise RetryableDeliveryError(detail)
        raise PermanentDeliveryError(detail)

    def close(self) -> None:
        """Close the HTTP connection pool."""
        self._client.close()
