"""Settings read from the environment (prefix ``QC_``).

Why one cached object: every entry point (CLI, API factory, worker) asks ``get_settings()`` once
and passes the result down, so nothing reads the environment at import time and tests can build
their own ``Settings(...)``.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

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
    require_services: bool = False
    """Tests only: fail (not skip) when PostgreSQL/Redis are missing."""


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    return Settings()
