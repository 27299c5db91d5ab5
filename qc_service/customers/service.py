"""Customers as records name them (idempotent upserts by the tenant's id)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from qc_service.customers.models import Customer
from qc_service.db.base import utcnow
from qc_service.records import CustomerIn
from qc_service.tenancy.service import extra_fields


def upsert_customer(
    *,
    db_session: Session,
    tenant_id: str,
    data: CustomerIn,
    owner: str | None,
    seen_at: datetime | None = None,
) -> Customer:
    """Create or refresh a customer. The owner is the employee of the customer's latest
    conversation (by ``seen_at``, its start) unless a transfer set it: then it stays."""
    cust = db_session.scalars(
        select(Customer).where(Customer.tenant_id == tenant_id, Customer.external_id == data.id)
    ).one_or_none()
    if cust is None:
        cust = Customer(tenant_id=tenant_id, external_id=data.id, extra={}, violation_summary={})
        db_session.add(cust)
    for attr in ("name", "phone", "unionid", "crm_id"):
        value = getattr(data, attr)
        if value is not None:
            setattr(cust, attr, value)
    seen_at = seen_at or utcnow()
    if owner is not None and cust.owner_source != "transfer":
        if cust.owner_since is None or seen_at >= cust.owner_since:
            cust.owner_external_id, cust.owner_source, cust.owner_since = (
                owner,
                "conversation",
                seen_at,
            )
    if data.model_extra:
        cust.extra = {**(cust.extra or {}), **extra_fields(data)}
    db_session.flush()
    return cust


def get_customer(*, db_session: Session, tenant_id: str, external_id: str) -> Customer | None:
    """A customer by the tenant's id."""
    return db_session.scalars(
        select(Customer).where(Customer.tenant_id == tenant_id, Customer.external_id == external_id)
    ).one_or_none()
