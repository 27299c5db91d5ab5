"""WeCom's HTTP API as ``call(path, body) -> answer``: the token cache, the call budget, and
WeCom's errcodes turned into the bridge's two error kinds.

Why a client apart from the adapter: the token (refresh once on 42001/40014) and the budget
(a sliding window shared through Redis by every dispatcher process, from the ``limits``
library) are the same for every call; the adapter only decides what to call. The secret is
only ever a query parameter of ``gettoken``: no error text here carries a URL or the secret.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from typing import Any

import httpx
from limits import RateLimitItem, RateLimitItemPerHour, RateLimitItemPerMinute
from limits.storage import storage_from_string
from limits.strategies import SlidingWindowCounterRateLimiter

from crm_bridge.adapters.base import (
    BudgetExhausted,
    PermanentDeliveryError,
    RetryableDeliveryError,
)
from crm_bridge.settings import BridgeSettings

RETRY_LATER = frozenset({45009, 45033, -1, 6000})
"""Frequency, concurrency, busy, conflict: through the outbox's back-off (WECOM.md)."""
DEAD = frozenset({84061, 40096, 40003})
"""Not an external contact, bad customer / employee id: dead-letter at once."""
TOKEN_ERRORS = frozenset({42001, 40014})
FREQUENCY_WINDOW_SECONDS = 60.0
"""45009's first retry waits WeCom's budget window."""


_SECRET_PARAMS = re.compile(r"((?:corpsecret|access_token)=)[^&\s\"']+")


class RedactSecrets(logging.Filter):
    """httpx logs every request URL at INFO: the secret and the token are cut out of it."""

    def filter(self, record: logging.LogRecord) -> bool:
        text = record.getMessage()
        if "corpsecret=" in text or "access_token=" in text:
            record.msg, record.args = _SECRET_PARAMS.sub(r"\1***", text), None
        return True


for _name in ("httpx", "httpcore"):
    logging.getLogger(_name).addFilter(RedactSecrets())


class WeComError(Exception):
    """A non-zero errcode in a 200 answer (``errcode``, ``errmsg``)."""

    def __init__(self, errcode: int, errmsg: str) -> None:
        super().__init__(f"errcode {errcode}: {errmsg}")
        self.errcode, self.errmsg = errcode, errmsg

    def as_delivery_error(self) -> PermanentDeliveryError | RetryableDeliveryError:
        """WECOM.md's table: retry later, or dead-letter; ``last_error`` starts with the errcode."""
        text = str(self)
        if self.errcode in RETRY_LATER or self.errcode in TOKEN_ERRORS or self.errcode == 40068:
            wait = FREQUENCY_WINDOW_SECONDS if self.errcode == 45009 else None
            return RetryableDeliveryError(text, retry_after=wait)
        return PermanentDeliveryError(text)


class Budget:
    """Calls per minute and per hour for one corp, across processes (Redis) or in-process."""

    def __init__(self, settings: BridgeSettings, corp: str) -> None:
        url = settings.broker_url if (settings.broker_url or "").startswith("redis") else None
        self._limiter = SlidingWindowCounterRateLimiter(storage_from_string(url or "memory://"))
        self._items: list[RateLimitItem] = [
            RateLimitItemPerMinute(settings.wecom_calls_per_min),
            RateLimitItemPerHour(settings.wecom_calls_per_hour),
        ]
        self._key = f"qc:wecom-budget:{corp}"
        self.max_wait = settings.wecom_budget_wait_seconds

    def take(self) -> None:
        """Wait (at most ``max_wait``) for room for one call, or raise ``BudgetExhausted``."""
        deadline = time.monotonic() + self.max_wait
        while True:
            if all(self._limiter.test(i, self._key) for i in self._items):
                for item in self._items:
                    self._limiter.hit(item, self._key)
                return
            reset = max(
                self._limiter.get_window_stats(i, self._key).reset_time for i in self._items
            )
            wait = max(0.05, min(reset - time.time(), 1.0))
            if time.monotonic() + wait > deadline:
                raise BudgetExhausted(
                    "client budget for WeCom calls is used up for now",
                    retry_after=max(1.0, reset - time.time()),
                )
            time.sleep(wait)


class WeComClient:
    """Calls with a cached token (refreshed shortly before it expires, or once on 42001/40014)."""

    def __init__(self, settings: BridgeSettings) -> None:
        if not settings.wecom_corp_id or settings.wecom_secret is None:
            raise ValueError("WeCom needs QC_WECOM_CORP_ID and QC_WECOM_SECRET")
        self.settings = settings
        self._http = httpx.Client(
            base_url=settings.wecom_base_url, timeout=settings.wecom_timeout_seconds
        )
        self.budget = Budget(settings, settings.wecom_corp_id)
        self._token: str | None = None
        self._token_until = 0.0
        self._lock = threading.Lock()

    def _post(
        self, path: str, body: dict[str, Any] | None, params: dict[str, str]
    ) -> dict[str, Any]:
        self.budget.take()
        try:
            if body is None:
                response = self._http.get(path, params=params)
            else:
                response = self._http.post(path, params=params, json=body)
        except httpx.TimeoutException as exc:
            raise RetryableDeliveryError(f"WeCom {path}: timeout ({type(exc).__name__})") from None
        except httpx.TransportError as exc:
            raise RetryableDeliveryError(
                f"WeCom {path}: connection error ({type(exc).__name__})"
            ) from None
        if response.status_code >= 500:
            raise RetryableDeliveryError(f"WeCom {path}: HTTP {response.status_code}")
        if response.status_code != 200:
            raise PermanentDeliveryError(f"WeCom {path}: HTTP {response.status_code}")
        answer: dict[str, Any] = response.json()
        code = int(answer.get("errcode", 0))
        if code != 0:
            raise WeComError(code, str(answer.get("errmsg", "")))
        return answer

    def token(self, *, fresh: bool = False) -> str:
        """The access token (a new one when ``fresh`` or about to expire)."""
        with self._lock:
            if fresh or self._token is None or time.monotonic() >= self._token_until:
                secret = self.settings.wecom_secret
                assert secret is not None and self.settings.wecom_corp_id
                answer = self._post("/cgi-bin/gettoken", None, {
                    "corpid": self.settings.wecom_corp_id, "corpsecret": secret.get_secret_value()})  # fmt: skip
                self._token = str(answer["access_token"])
                self._token_until = time.monotonic() + int(answer.get("expires_in", 7200)) - 300
            return self._token

    def call(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        """POST with the token; 42001/40014 fetch a new token and repeat once (WECOM.md)."""
        try:
            return self._post(path, body, {"access_token": self.token()})
        except WeComError as exc:
            if exc.errcode not in TOKEN_ERRORS:
                raise
            return self._post(path, body, {"access_token": self.token(fresh=True)})

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()
