"""ORM model for customer tags.

Why one row per (customer, tag) with first/last seen and a soft removal: a tag is re-confirmed by
every conversation that shows it, and removing it (exclusive groups, group leave, by hand) must
keep who removed it and when, so a later re-analysis does not silently bring it back unseen.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from qc_service.customers.models import Customer
from qc_service.db.base import Base, JSONType, utcnow
from qc_service.tenancy.models import Tenant


class CustomerTag(Base):
    """A tag on a customer (``小学``, ``高意向``…) with where it came from and its evidence."""

    __tablename__ = "customer_tags"
    __table_args__ = (
        UniqueConstraint("customer_id", "tag"),
        Index("ix_customer_tags_tenant_id_tag", "tenant_id", "tag"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"))
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    tag: Mapped[str] = mapped_column(String(255))
    source: Mapped[str] = mapped_column(String(16))
    """``rule`` | ``qa`` | ``group`` | ``manual`` | ``aggregate``."""
    rule_id: Mapped[str | None] = mapped_column(String(128))
    rule_version: Mapped[int | None]
    evidence: Mapped[list[dict[str, Any]]] = mapped_column(JSONType, default=list)
    first_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    removed_at: Mapped[datetime | None]
    removed_by: Mapped[str | None] = mapped_column(String(255))
    override: Mapped[str | None] = mapped_column(String(16), default=None)
    """A person's override (ACCESS.md): ``removed`` — no automatic source (rules, Q&A, groups,
    segments) puts the tag back; ``locked`` — none takes it off; until an admin clears it."""
    override_by: Mapped[str | None] = mapped_column(String(255), default=None)
    override_at: Mapped[datetime | None] = mapped_column(default=None)
    override_reason: Mapped[str | None] = mapped_column(String(1000), default=None)
    confirmed_by: Mapped[str | None] = mapped_column(String(255), default=None)
    """A person who checked the tag and its evidence and found it right."""
    confirmed_at: Mapped[datetime | None] = mapped_column(default=None)

    tenant: Mapped[Tenant] = relationship()
    customer: Mapped[Customer] = relationship()


class TagHit(Base):
    """One message that matched an aggregate tag rule, kept until the rule's threshold is reached
    over the customer's history (distinct messages within ``window_days``)."""

    __tablename__ = "tag_hits"
    __table_args__ = (UniqueConstraint("customer_id", "rule_id", "hit_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"))
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    rule_id: Mapped[str] = mapped_column(String(128))
    hit_key: Mapped[str] = mapped_column(String(512))
    """``conversation id/message id``."""
    ts: Mapped[datetime]
    evidence: Mapped[dict[str, Any]] = mapped_column(JSONType)

    tenant: Mapped[Tenant] = relationship()
    customer: Mapped[Customer] = relationship()
