"""An API client on a store of each backend."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from qc_service.api.app import create_app
from qc_service.config import Settings
from qc_service.store import open_store


@pytest.fixture
def client(db_url: str) -> Iterator[TestClient]:
    """A TestClient whose app uses a fresh store on ``db_url``."""
    settings = Settings(database_url=db_url)
    store = open_store(settings)
    try:
        with TestClient(create_app(settings, store=store)) as c:
            yield c
    finally:
        store.close()
