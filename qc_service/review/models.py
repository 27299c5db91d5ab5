"""ORM models for violations, their evidence, appeals and conversation scores.

Why one violation per (tenant, conversation, rule): re-analysis adds evidence to the violation it
already found instead of creating a second one, so appeals and decisions stay attached to a single
row that re-analysis never deletes or rewrites once it has been appealed or decided.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    Connection,
    Float,
    ForeignKey,
    Index,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    event,
    select,
)
from sqlalchemy.orm import Mapped, Mapper, mapped_column, relationship

from qc_service.conversations.models import Conversation
from qc_service.db.base import Base, CreatedAtMixin, JSONType, TimestampMixin, utcnow
from qc_service.rules.model import Evidence as FindingEvidence
from qc_service.tenancy.models import Tenant


class Violation(TimestampMixin, Base):
    """A rule that fired on a conversation, with its review state."""

    __tablename__ = "violations"
    __table_args__ = (
        UniqueConstraint("tenant_id", "conversation_id", "rule_id"),
        Index("ix_violations_status", "status"),
        Index("ix_violations_rule_id", "rule_id"),
        Index("ix_violations_conversation_id", "conversation_id"),
        # covering indexes of the dashboard's counts (``insights.dashboard``): every figure is
        # read from the index alone, no table lookups (bench/dashboard.py: 100,000 violations)
        Index("ix_violations_tenant_created", "tenant_id", "created_at", "status", "rule_id",
              "employee_id", "channel", "conversation_id"),
        Index("ix_violations_tenant_decided", "tenant_id", "decided_at", "status", "rule_id",
              "employee_id", "channel", "reason_code", "decided_by", "decide_seconds"),
    )  # fmt: skip

    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"))
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id"))
    employee_id: Mapped[int | None] = mapped_column(default=None)
    """The conversation's agent, copied when the violation is found (a conversation's agent and
    channel never change). Why a copy: the dashboard counts violations by agent, team and channel
    without joining 100,000 conversations (``insights.dashboard``). No foreign key: the
    conversation's own keeps it right, and SQLite can add and drop a plain column in place."""
    channel: Mapped[str | None] = mapped_column(String(16), default=None)
    """The conversation's channel, copied like ``employee_id``."""
    rule_id: Mapped[str] = mapped_column(String(128))
    """The rule's stable id (``redline.red-packet``), not a foreign key: it names the rule."""
    rule_version: Mapped[int]
    severity: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), default="open")
    """``open`` | ``appealed`` | ``upheld`` | ``overturned`` | ``confirmed``."""
    deduct: Mapped[int] = mapped_column(default=0)
    fatal: Mapped[bool] = mapped_column(default=False)
    actions: Mapped[list[dict[str, Any]]] = mapped_column(JSONType, default=list)
    """Actions taken: ``[{"type", "target", "status", "error"}]``."""
    decided_at: Mapped[datetime | None]
    decided_by: Mapped[str | None] = mapped_column(String(255), default=None)
    """The username of whoever decided (a reviewer, or ``system`` when the window closed)."""
    reason_code: Mapped[str | None] = mapped_column(String(64), default=None)
    """The decision's reason code (the tenant's list; ``review.reasons``)."""
    decide_seconds: Mapped[float | None] = mapped_column(Float, default=None)
    """Time to decide: from the latest appeal (or, unappealed, from the finding) to the decision.
    Stored at the decision so the reviewers' medians are computed in SQL."""

    tenant: Mapped[Tenant] = relationship()
    conversation: Mapped[Conversation] = relationship()
    evidence: Mapped[list[Evidence]] = relationship(
        back_populates="violation",
        order_by="Evidence.id",
        cascade="all, delete-orphan",
        passive_deletes=True,
    )
    appeals: Mapped[list[Appeal]] = relationship(back_populates="violation", order_by="Appeal.id")


@event.listens_for(Violation, "before_insert")
def _copy_agent_and_channel(
    _mapper: Mapper[Violation], conn: Connection, target: Violation
) -> None:
    """Fill ``employee_id`` and ``channel`` from the conversation when the creator did not.

    Why a hook: the pipeline sets them, but a violation made any other way (a seed, a test, a
    script) must still be counted under its agent, team and channel by the dashboard."""
    if target.employee_id is not None and target.channel is not None:
        return
    row = conn.execute(
        select(Conversation.employee_id, Conversation.channel).where(
            Conversation.id == target.conversation_id
        )
    ).one_or_none()
    if row is not None:
        target.employee_id, target.channel = row


class Evidence(CreatedAtMixin, Base):
    """Where a violation was seen: a span, a message, a window (something absent) or audio."""

    __tablename__ = "evidence"

    id: Mapped[int] = mapped_column(primary_key=True)
    violation_id: Mapped[int] = mapped_column(
        ForeignKey("violations.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(16))
    """``span`` | ``message`` | ``window`` | ``audio``."""
    message_external_id: Mapped[str | None] = mapped_column(String(255))
    role: Mapped[str | None] = mapped_column(String(16))
    start: Mapped[int | None] = mapped_column("start_offset")
    """Code-point offset into the original message text (``end`` exclusive)."""
    end: Mapped[int | None] = mapped_column("end_offset")
    text: Mapped[str | None] = mapped_column(Text)
    t_start: Mapped[float | None] = mapped_column(Float)
    t_end: Mapped[float | None] = mapped_column(Float)
    value: Mapped[float | None] = mapped_column(Float)
    unit: Mapped[str | None] = mapped_column(String(32))
    message_ids: Mapped[list[str] | None] = mapped_column(JSONType)
    """For ``window`` evidence: the messages of the window where something was expected."""

    violation: Mapped[Violation] = relationship(back_populates="evidence")

    def to_dict(self) -> dict[str, Any]:
        """The evidence object of the findings contract (ARCHITECTURE.md, "Findings")."""
        return FindingEvidence(
            kind=self.kind,  # type: ignore[arg-type]
            message_id=self.message_external_id, role=self.role, start=self.start, end=self.end, text=self.text,
            t_start=self.t_start, t_end=self.t_end, value=self.value, unit=self.unit, message_ids=self.message_ids,
        ).to_dict()  # fmt: skip


class Appeal(Base):
    """An agent's appeal against a violation, and the reviewer's decision on it."""

    __tablename__ = "appeals"
    __table_args__ = (Index("ix_appeals_created_at", "created_at", "violation_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    violation_id: Mapped[int] = mapped_column(ForeignKey("violations.id"), index=True)
    reason: Mapped[str] = mapped_column(Text)
    appellant: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    decision: Mapped[str | None] = mapped_column(String(16))
    reviewer: Mapped[str | None] = mapped_column(String(255))
    comment: Mapped[str | None] = mapped_column(Text)
    reason_code: Mapped[str | None] = mapped_column(String(64), default=None)
    decided_at: Mapped[datetime | None]

    violation: Mapped[Violation] = relationship(back_populates="appeals")


class Score(Base):
    """A conversation's scorecard result (one row per conversation, replaced on re-analysis)."""

    __tablename__ = "scores"

    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id"), unique=True)
    score: Mapped[int]
    pass_mark: Mapped[int]
    passed: Mapped[bool]
    complete: Mapped[bool]
    """False when a stage failed for the conversation (the score may be too generous)."""
    items: Mapped[list[dict[str, Any]]] = mapped_column(JSONType, default=list)
    """Deductions: ``[{"rule_id", "deduct"}]``."""
    computed_at: Mapped[datetime] = mapped_column(default=utcnow)

    conversation: Mapped[Conversation] = relationship()


class FeedbackModelVersion(Base):
    """One training run of a tenant's feedback (overturn) model — ``qc train feedback``.

    Why versions and a fingerprint: retraining on the same verdicts (same fingerprint as the
    latest version) writes nothing, so the command can run on a schedule; new verdicts give
    version N+1 and older versions stay for comparison. A run with too little data is stored as
    ``insufficient`` with its reason and no artifact, so the API can say why the queue is not
    ranked.
    """

    __tablename__ = "feedback_models"
    __table_args__ = (UniqueConstraint("tenant_id", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"))
    version: Mapped[int]
    fingerprint: Mapped[str] = mapped_column(String(64))
    """sha256 of the verdicts it was trained on (``qc_service.nlp.feedback.fingerprint``)."""
    trained_at: Mapped[datetime] = mapped_column(default=utcnow)
    n_verdicts: Mapped[int]
    status: Mapped[str] = mapped_column(String(16))
    """``active`` (ranks the queue) | ``insufficient`` (too little data; see ``reason``)."""
    reason: Mapped[str | None] = mapped_column(Text)
    metrics: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    """Counts and held-out metrics (time-ordered split): ``{"verdicts", "overturned", "upheld",
    "auc", "brier", ...}``."""
    artifact: Mapped[bytes | None] = mapped_column(LargeBinary)
    """``FeedbackModel.to_bytes()``: weights per hash bucket and settings, no text."""
