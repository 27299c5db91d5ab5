"""Customers as records name them (idempotent upserts by the tenant's id)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from qc_service.conversations.scope import customer_clause
from qc_service.customers.models import Customer
from qc_service.db.base import utcnow
from qc_service.identity.policy import Scope
from qc_service.records import CustomerIn
from qc_service.tagging.models import CustomerTag
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


def search_customers(
    *, db_session: Session, scope: Scope, q: str | None, tag: str | None, cursor: int | None,
    limit: int = 50,
) -> tuple[list[Customer], int | None]:  # fmt: skip
    """Customers in the caller's scope whose name or id contains ``q`` and who carry ``tag`` now;
    by id, keyset-paged (``cursor`` = the last id of the previous page)."""
    stmt = select(Customer).where(customer_clause(scope))
    if q:
        pattern = f"%{q}%"
        stmt = stmt.where(or_(Customer.name.like(pattern), Customer.external_id.like(pattern)))
    if tag:
        stmt = stmt.where(Customer.id.in_(select(CustomerTag.customer_id).where(
            CustomerTag.tag == tag, CustomerTag.removed_at.is_(None))))  # fmt: skip
    if cursor is not None:
        stmt = stmt.where(Customer.id > cursor)
    rows = list(db_session.scalars(stmt.order_by(Customer.id).limit(limit + 1)))
    return rows[:limit], (rows[limit - 1].id if len(rows) > limit else None)
