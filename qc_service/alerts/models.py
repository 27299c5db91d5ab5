"""ORM model for alerts raised on the hot lane.

Why a row per (conversation, rule, target): an agent is warned once per red line per
conversation, however many messages repeat it; the row is written in the ingest transaction, so
an alert exists exactly when its violation does, and it is published only after both commit.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from qc_service.db.base import Base, CreatedAtMixin, JSONType


class Alert(CreatedAtMixin, Base):
    """A real-time notice to an agent or their supervisor, with the evidence that raised it."""

    __tablename__ = "alerts"
    __table_args__ = (UniqueConstraint("conversation_id", "rule_id", "target"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"))
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id"), index=True)
    violation_id: Mapped[int] = mapped_column(ForeignKey("violations.id"))
    rule_id: Mapped[str] = mapped_column(String(128))
    target: Mapped[str] = mapped_column(String(16))
    """``agent`` | ``supervisor``."""
    employee_external_id: Mapped[str] = mapped_column(String(255), index=True)
    team: Mapped[str | None] = mapped_column(String(255))
    payload: Mapped[dict[str, Any]] = mapped_column(JSONType)
    """The event as published on the stream (evidence included)."""
