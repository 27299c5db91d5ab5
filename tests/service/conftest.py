"""A store (migrated database + built-in pack) on each backend."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from qc_service.config import Settings
from qc_service.store import Store, open_store


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:
    """A freshly opened store on SQLite or PostgreSQL."""
    s = open_store(Settings(database_url=db_url))
    try:
        yield s
    finally:
        s.close()
