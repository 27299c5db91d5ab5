"""Fixtures of the CRM bridge tests: a store on each backend, an enqueuer, a webhook receiver."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from bridge_helpers import TENANT, Enqueue, bridge_settings
from crm_receiver import Receiver, running_receiver
from sqlalchemy.orm import Session, sessionmaker

from crm_bridge.outbox.service import enqueue
from crm_bridge.settings import BridgeSettings
from qc_service.db.session import write_transaction
from qc_service.store import Store


@pytest.fixture
def factory(store: Store) -> sessionmaker[Session]:
    return store.session_factory


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A real HTTP receiver on a free local port."""
    with running_receiver() as r:
        yield r


@pytest.fixture
def webhook_settings(receiver: Receiver) -> BridgeSettings:
    return bridge_settings(crm_adapter="webhook", webhook_url=receiver.url)


@pytest.fixture
def put(factory: sessionmaker[Session]) -> Enqueue:
    """Enqueue one event in its own committed transaction; returns its event id."""

    def _put(event_type: str, customer: str, tenant: str = TENANT, **data: Any) -> str:
        with write_transaction(factory) as db_session:
            row = enqueue(db_session=db_session, tenant_id=tenant, event_type=event_type,
                          customer_external_id=customer, data=data)  # fmt: skip
            return row.event_id

    return _put
