"""ORM models for stored rules and their published versions.

Why versions are immutable: a violation names the rule version that found it, and a reviewer (or a
backtest) must see exactly that definition and those lexicon words, even after the rule or its
lexicon file has been edited. An edit publishes a new version; it never rewrites an old one.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint, event
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Mapped, Mapper, mapped_column, relationship

from qc_service.db.base import Base, CreatedAtMixin, JSONType, TimestampMixin
from qc_service.tenancy.models import Tenant


class RuleVersionImmutableError(RuntimeError):
    """Raised when a flush would UPDATE a stored rule version."""


class Rule(TimestampMixin, Base):
    """A rule's identity within a tenant (stable ``rule_id`` such as ``redline.red-packet``)."""

    __tablename__ = "rules"
    __table_args__ = (UniqueConstraint("tenant_id", "rule_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"))
    rule_id: Mapped[str] = mapped_column(String(128))
    name: Mapped[str] = mapped_column(String(255))
    kind: Mapped[str] = mapped_column(String(16))
    """``violation`` | ``tag``."""
    enabled: Mapped[bool] = mapped_column(default=True)
    current_version: Mapped[int]
    scheduled_version: Mapped[int | None]
    """A published version that becomes current at ``scheduled_at`` (the sweep promotes it)."""
    scheduled_at: Mapped[datetime | None]

    tenant: Mapped[Tenant] = relationship()
    versions: Mapped[list[RuleVersion]] = relationship(
        back_populates="rule", order_by="RuleVersion.version"
    )


class RuleVersion(CreatedAtMixin, Base):
    """One published, immutable version of a rule, with the lexicon words it used at the time."""

    __tablename__ = "rule_versions"
    __table_args__ = (UniqueConstraint("rule_pk", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    rule_pk: Mapped[int] = mapped_column(ForeignKey("rules.id"))
    version: Mapped[int]
    definition: Mapped[dict[str, Any]] = mapped_column(JSONType)
    """The rule as written (parsed YAML)."""
    lexicons: Mapped[dict[str, list[str]]] = mapped_column(JSONType, default=dict)
    """Snapshot ``{lexicon name: [words]}`` of every lexicon the rule uses."""
    scorecard: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    source: Mapped[str] = mapped_column(String(16))
    """``pack`` | ``file`` | ``api``."""
    checksum: Mapped[str] = mapped_column(String(64))
    """sha256 of definition + lexicons: re-importing an identical rule creates no version."""

    rule: Mapped[Rule] = relationship(back_populates="versions")


@event.listens_for(RuleVersion, "before_update")
def _refuse_rule_version_update(
    _mapper: Mapper[Any], _connection: Connection, target: RuleVersion
) -> None:
    """Refuse any flush that would UPDATE a version (bulk ``update()`` statements bypass this)."""
    raise RuleVersionImmutableError(
        f"rule versions are immutable (rule_pk={target.rule_pk}, version={target.version}); "
        "publish a new version instead"
    )


class BacktestRun(TimestampMixin, Base):
    """A draft backtested in the background (the rule editor's 回测): progress, result, and the
    draft's hash that gates 发布 (UI.md: publish only after a finished backtest of this draft)."""

    __tablename__ = "backtest_runs"
    __table_args__ = (Index("ix_backtest_runs_tenant_hash", "tenant_id", "draft_hash"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"))
    draft: Mapped[str] = mapped_column(Text)
    draft_hash: Mapped[str] = mapped_column(String(64))
    rule_ids: Mapped[list[str]] = mapped_column(JSONType, default=list)
    status: Mapped[str] = mapped_column(String(16), default="running")
    """``running`` | ``finished`` | ``cancelled`` | ``failed``."""
    total: Mapped[int] = mapped_column(default=0)
    done: Mapped[int] = mapped_column(default=0)
    cancel_requested: Mapped[bool] = mapped_column(default=False)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSONType, default=None)
    error: Mapped[str | None] = mapped_column(Text, default=None)
    created_by: Mapped[str] = mapped_column(String(255))
    finished_at: Mapped[datetime | None]
