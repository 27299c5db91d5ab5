"""Builders shared by the CRM bridge tests (settings, tenants, customers, rows)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pydantic import SecretStr
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from crm_bridge.outbox.models import OutboxEvent
from crm_bridge.settings import BridgeSettings
from qc_service.customers.models import Customer
from qc_service.db.session import write_transaction
from qc_service.tenancy.models import Tenant

SECRET = "s3cret-密钥"
TENANT = "default"

Enqueue = Callable[..., str]
"""``put(event_type, customer, tenant=TENANT, **data) -> event_id`` (the ``put`` fixture)."""


def bridge_settings(**overrides: Any) -> BridgeSettings:
    """Settings for tests: retries due at once, a short timeout, no environment."""
    values: dict[str, Any] = {
        "crm_adapter": "local",
        "webhook_url": None,
        "webhook_secret": SecretStr(SECRET),
        "webhook_timeout_seconds": 2.0,
        "outbox_max_attempts": 4,
        "outbox_retry_base_seconds": 0.0,
        "outbox_retry_max_seconds": 0.0,
        "outbox_poll_seconds": 0.05,
        "outbox_batch": 100,
    }
    values.update(overrides)
    return BridgeSettings(**values)


def add_customer(
    factory: sessionmaker[Session],
    external_id: str,
    *,
    tenant: str = TENANT,
    tenant_settings: dict[str, Any] | None = None,
    owner: str | None = "e1",
) -> None:
    """A tenant (created if missing) and one customer of it."""
    with write_transaction(factory) as db_session:
        row = db_session.get(Tenant, tenant)
        if row is None:
            db_session.add(Tenant(id=tenant, name=tenant, settings=tenant_settings or {}))
        elif tenant_settings is not None:
            row.settings = tenant_settings
        db_session.flush()
        db_session.add(
            Customer(tenant_id=tenant, external_id=external_id, owner_external_id=owner,
                     extra={}, violation_summary={})
        )  # fmt: skip


def event_row(factory: sessionmaker[Session], event_id: str) -> OutboxEvent:
    with factory() as db_session:
        return db_session.scalars(select(OutboxEvent).where(OutboxEvent.event_id == event_id)).one()


def customer_row(
    factory: sessionmaker[Session], external_id: str, tenant: str = TENANT
) -> Customer:
    with factory() as db_session:
        return db_session.scalars(
            select(Customer).where(
                Customer.tenant_id == tenant, Customer.external_id == external_id
            )
        ).one()
