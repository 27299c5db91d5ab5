"""Settings of the CRM bridge (prefix ``QC_``), kept apart from the service's own settings.

Why a separate object: the bridge runs in the API process, in ``qc worker`` and alone
(``python -m crm_bridge.dispatcher``); each builds ``BridgeSettings()`` from the same environment
as ``qc_service.config.Settings`` without the bridge depending on the service's configuration.
"""

from __future__ import annotations

from pydantic import SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class BridgeSettings(BaseSettings):
    """Every setting has a default that works on a laptop with no CRM (the ``local`` adapter)."""

    model_config = SettingsConfigDict(env_prefix="QC_", extra="ignore")

    crm_adapter: str = "local"
    """Adapter slug used for tenants whose ``Tenant.settings["crm_adapter"]`` names none
    (``local``, ``webhook``, ``recording`` or any ``qc_service.crm_adapters`` entry point)."""
    webhook_url: str | None = None
    """Where the ``webhook`` adapter POSTs events (required by that adapter)."""
    webhook_secret: SecretStr | None = None
    """HMAC-SHA256 key of the ``X-QC-Signature`` header (required by the ``webhook`` adapter)."""
    webhook_timeout_seconds: float = 5.0
    """Connect/read/write timeout of one webhook call; a timeout is retried. On SQLite the outbox
    write lock is held during the call, so keep it at or below SQLite's 5 s busy timeout."""
    outbox_max_attempts: int = 8
    """Attempts before a retryably failing event is dead-lettered (``status="dead"``)."""
    outbox_retry_base_seconds: float = 2.0
    """First retry delay; retry *n* waits ``base * 2**(n-1)`` plus up to ``base`` of jitter
    (0 in tests: retries are due at once)."""
    outbox_retry_max_seconds: float = 300
    """Upper bound of one retry delay."""
    outbox_poll_seconds: float = 0.5
    """How often the background dispatcher looks for due events when the outbox is idle."""
    outbox_batch: int = 100
    """Most events one ``dispatch_once`` pass attempts (each is committed on its own)."""
    outbox_claim_seconds: float = 300
    """How long a claimed event is reserved for the dispatcher delivering it; a dispatcher that
    died mid-call leaves it due again after this. Keep it above the slowest adapter call."""
    outbox_coalesce_max: int = 20
    """Most of one customer's pending events an adapter may coalesce into one call."""
    broker_url: str | None = None
    """Redis (``QC_BROKER_URL``): where a CRM's call budget is shared by every dispatcher."""
    wecom_base_url: str = "https://qyapi.weixin.qq.com"
    """WeCom's API host (a contract server in tests)."""
    wecom_corp_id: str | None = None
    """The corp (企业) id."""
    wecom_secret: SecretStr | None = None
    """The app's secret: never logged, never in an error text."""
    wecom_tag_group: str = "智能标签"
    """The corp tag group our tags live in; tags outside it are never edited."""
    wecom_calls_per_min: int = 9000
    """Client-side budget under WeCom's 10,000 calls/min per corp (shared with other apps)."""
    wecom_calls_per_hour: int = 135000
    """Client-side budget under WeCom's 150,000 calls/h per corp."""
    wecom_timeout_seconds: float = 10.0
    """Timeout of one WeCom call (retried)."""
    wecom_budget_wait_seconds: float = 5.0
    """How long one delivery waits for room in the budget before giving the event back."""
