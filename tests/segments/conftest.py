"""The segments tests' API client."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from qc_service.main import create_app
from qc_service.store import Store
from tests.factories import bearer


@pytest.fixture
def client(store: Store) -> Iterator[TestClient]:
    """The API as an admin, without the scheduler loop: its segments job would run the
    published segment at a moment of its own and race the test's runs."""
    with TestClient(
        create_app(store.settings.model_copy(update={"scheduler": False}), store=store)
    ) as c:
        c.headers.update(bearer(store, "admin", username="seg-admin"))
        yield c
