"""ORM models for conversations and their messages.

Why the state lives here: the database, not a queue, is the source of truth for what still needs
analysing. A conversation is stored ``pending`` before any lane runs; ``lease_until`` and
``analysis_attempts`` let a sweep re-queue work lost to a crash without running it twice at once.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from qc_service.customers.models import Customer
from qc_service.db.base import Base, CreatedAtMixin, JSONType, TimestampMixin
from qc_service.tenancy.models import Employee, Tenant


class Conversation(TimestampMixin, Base):
    """One chat or call between an employee and a customer (a record's ``id`` is external_id)."""

    __tablename__ = "conversations"
    __table_args__ = (
        UniqueConstraint("tenant_id", "external_id"),
        Index(
            "ix_conversations_tenant_analysed", "tenant_id", "analysed_at", "employee_id", "channel"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"))
    external_id: Mapped[str] = mapped_column(String(255))
    channel: Mapped[str] = mapped_column(String(16))
    employee_id: Mapped[int] = mapped_column(ForeignKey("employees.id"), index=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    started_at: Mapped[datetime | None]
    status: Mapped[str] = mapped_column(String(16), default="pending", index=True)
    """``pending`` | ``analysed`` | ``failed``."""
    closed: Mapped[bool] = mapped_column(default=False)
    stage_errors: Mapped[list[dict[str, Any]]] = mapped_column(JSONType, default=list)
    """Failed stages of the last analysis: ``[{"stage": ..., "message": ...}]``."""
    call: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    """For calls: ``{"audio", "channels", "segments"}`` as in the record."""
    extra: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    """Record fields this version does not know, kept verbatim."""
    last_message_at: Mapped[datetime | None]
    analysed_at: Mapped[datetime | None]
    analysis_attempts: Mapped[int] = mapped_column(default=0)
    lease_until: Mapped[datetime | None]
    """Until when the deep lane's latest run is presumed alive; the sweep re-queues after it."""
    revision: Mapped[int] = mapped_column(default=0)
    """Bumped by every change that needs analysis; a run marks ``analysed`` only the revision it read."""

    tenant: Mapped[Tenant] = relationship()
    employee: Mapped[Employee] = relationship()
    customer: Mapped[Customer] = relationship()
    messages: Mapped[list[Message]] = relationship(
        back_populates="conversation",
        order_by="Message.seq",
        cascade="all, delete-orphan",
        passive_deletes=True,
    )


class Message(CreatedAtMixin, Base):
    """One message (or call segment, ids ``seg-N``), in conversation order ``seq`` from 0."""

    __tablename__ = "messages"
    __table_args__ = (
        UniqueConstraint("conversation_id", "external_id"),
        UniqueConstraint("conversation_id", "seq"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"))
    external_id: Mapped[str] = mapped_column(String(255))
    seq: Mapped[int]
    role: Mapped[str] = mapped_column(String(16))
    type: Mapped[str] = mapped_column(String(32), default="text")
    text: Mapped[str] = mapped_column(Text, default="")
    ts: Mapped[datetime | None]
    extra: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)

    conversation: Mapped[Conversation] = relationship(back_populates="messages")
