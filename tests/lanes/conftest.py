"""Real Redis for the lane tests (db 15, a fresh queue per test); skip or fail when it is down."""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import pytest
import redis

from qc_service.config import Settings

REDIS_URL = "redis://127.0.0.1:6379/15"


@pytest.fixture
def redis_url() -> Iterator[str]:
    """The test Redis database (flushed before and after the test)."""
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2)
    try:
        client.ping()
    except redis.RedisError as exc:
        reason = f"Redis not reachable at {REDIS_URL}: {exc}"
        if Settings().require_services:
            pytest.fail(f"{reason} (QC_REQUIRE_SERVICES=1)")
        pytest.skip(reason)
    client.flushdb()
    try:
        yield REDIS_URL
    finally:
        client.flushdb()
        client.close()


@pytest.fixture
def queue_name() -> str:
    """A queue of this test's own."""
    return f"qc-test-{secrets.token_hex(4)}"
