"""ORM model for customers, as the tenant identifies them.

Why its own domain: sales, managers and the CRM bridge all look at customers (owner, tags,
CRM ids, the customer-360 view); ``tenancy`` keeps tenants and employees.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from qc_service.db.base import Base, JSONType, TimestampMixin
from qc_service.tenancy.models import Tenant


class Customer(TimestampMixin, Base):
    """A customer as the tenant identifies them; phone/unionid/crm_id link them to the CRM."""

    __tablename__ = "customers"
    __table_args__ = (
        UniqueConstraint("tenant_id", "external_id"),
        Index("ix_customers_phone", "phone"),
        Index("ix_customers_unionid", "unionid"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"))
    external_id: Mapped[str] = mapped_column(String(255))
    name: Mapped[str | None] = mapped_column(String(255))
    phone: Mapped[str | None] = mapped_column(String(64))
    unionid: Mapped[str | None] = mapped_column(String(128))
    crm_id: Mapped[str | None] = mapped_column(String(255))
    owner_external_id: Mapped[str | None] = mapped_column(String(255))
    """External id of the employee who owns the customer: after a transfer, its target; else the
    employee of the customer's latest conversation (ACCESS.md: sales see their own customers)."""
    owner_source: Mapped[str | None] = mapped_column(String(16), default=None)
    """``transfer`` (a person moved the customer: conversations no longer change the owner) or
    ``conversation``."""
    owner_since: Mapped[datetime | None] = mapped_column(default=None)
    """When the current owner became owner (the conversation's start, or the transfer)."""
    extra: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    violation_summary: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)

    tenant: Mapped[Tenant] = relationship()


class CustomerRef(NamedTuple):
    """The few columns of a customer that bulk work (a segment run's tags) needs, without
    loading ORM objects."""

    id: int
    tenant_id: str
    external_id: str
    owner_external_id: str | None


class CustomerEvent(Base):
    """Something a customer did outside a conversation (joined / left a group), kept so segments
    can ask "in a 家长群 now" or "joined twice in 30 days" over history."""

    __tablename__ = "customer_events"
    __table_args__ = (
        Index("ix_customer_events_tenant_customer_ts", "tenant_id", "customer_id", "ts"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"))
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    type: Mapped[str] = mapped_column(String(32))
    group_name: Mapped[str | None] = mapped_column(String(255), default=None)
    data: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    ts: Mapped[datetime]
