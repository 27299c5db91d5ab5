"""ORM models for tenants and employees (customers: ``qc_service.customers.models``).

Why a tenant table: every row of every domain belongs to one tenant; rule sets, settings and CRM
adapters are chosen per tenant as data. Employees and customers are keyed by the tenant's own ids
(``external_id``) because records name them that way; the integer ``id`` is ours. Every tenant-owned model has a ``tenant`` relationship even where no
code navigates it: SQLAlchemy orders INSERTs within a flush by relationships, not by foreign keys.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from qc_service.db.base import Base, JSONType, TimestampMixin, utcnow


class Tenant(Base):
    """One customer organisation of the service (``"default"`` on a single-tenant install)."""

    __tablename__ = "tenants"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    settings: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)


class Employee(TimestampMixin, Base):
    """An agent (salesperson, service rep) whose conversations are inspected."""

    __tablename__ = "employees"
    __table_args__ = (UniqueConstraint("tenant_id", "external_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"))
    external_id: Mapped[str] = mapped_column(String(255))
    name: Mapped[str | None] = mapped_column(String(255))
    team: Mapped[str | None] = mapped_column(String(255))
    supervisor_external_id: Mapped[str | None] = mapped_column(String(255))
    extra: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)

    tenant: Mapped[Tenant] = relationship()
