"""segments: versions, runs, members, transitions; customer events

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-05 13:30:00.000000

Why: RULES.md's Segments section — a segment is a state of a customer recomputed on a schedule
and diffed against the last run; group joins are kept as events for ``in_group`` and ``event``.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "segments",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("tenant_id", sa.String(64), sa.ForeignKey("tenants.id"), nullable=False),
        sa.Column("segment_id", sa.String(128), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("current_version", sa.Integer(), nullable=False),
        sa.Column("last_run_id", sa.String(32), nullable=True),
        sa.Column("last_run_at", TS, nullable=True),
        sa.Column("last_as_of", TS, nullable=True),
        sa.Column("lease_owner", sa.String(64), nullable=True),
        sa.Column("lease_until", TS, nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.UniqueConstraint("tenant_id", "segment_id"),
    )
    op.create_table(
        "segment_versions",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("segment_pk", sa.Integer(), sa.ForeignKey("segments.id"), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("definition", JSON, nullable=False),
        sa.Column("lexicons", JSON, nullable=False),
        sa.Column("checksum", sa.String(64), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.UniqueConstraint("segment_pk", "version"),
    )
    op.create_table(
        "segment_runs",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("tenant_id", sa.String(64), sa.ForeignKey("tenants.id"), nullable=False),
        sa.Column("segment_pk", sa.Integer(), sa.ForeignKey("segments.id"), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("as_of", TS, nullable=False),
        sa.Column("trigger", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("members", sa.Integer(), nullable=False),
        sa.Column("entered", sa.Integer(), nullable=False),
        sa.Column("left", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("started_at", TS, nullable=False),
        sa.Column("finished_at", TS, nullable=True),
    )
    op.create_index("ix_segment_runs_segment_started", "segment_runs", ["segment_pk", "started_at"])
    op.create_table(
        "segment_members",
        sa.Column("segment_pk", sa.Integer(), sa.ForeignKey("segments.id"), primary_key=True),
        sa.Column("customer_id", sa.Integer(), sa.ForeignKey("customers.id"), primary_key=True),
        sa.Column("tenant_id", sa.String(64), sa.ForeignKey("tenants.id"), nullable=False),
        sa.Column("entered_at", TS, nullable=False),
        sa.Column("run_id", sa.String(32), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("leaves", JSON, nullable=False),
    )
    op.create_index("ix_segment_members_customer_id", "segment_members", ["customer_id"])
    op.create_table(
        "segment_transitions",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("tenant_id", sa.String(64), sa.ForeignKey("tenants.id"), nullable=False),
        sa.Column("segment_pk", sa.Integer(), sa.ForeignKey("segments.id"), nullable=False),
        sa.Column("customer_id", sa.Integer(), sa.ForeignKey("customers.id"), nullable=False),
        sa.Column("action", sa.String(8), nullable=False),
        sa.Column("run_id", sa.String(32), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("as_of", TS, nullable=False),
        sa.Column("leaves", JSON, nullable=False),
        sa.Column("created_at", TS, nullable=False),
    )
    op.create_index(
        "ix_segment_transitions_segment_customer",
        "segment_transitions",
        ["segment_pk", "customer_id"],
    )
    op.create_index("ix_segment_transitions_run", "segment_transitions", ["run_id"])
    op.create_table(
        "customer_events",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("tenant_id", sa.String(64), sa.ForeignKey("tenants.id"), nullable=False),
        sa.Column("customer_id", sa.Integer(), sa.ForeignKey("customers.id"), nullable=False),
        sa.Column("type", sa.String(32), nullable=False),
        sa.Column("group_name", sa.String(255), nullable=True),
        sa.Column("data", JSON, nullable=False),
        sa.Column("ts", TS, nullable=False),
    )
    op.create_index(
        "ix_customer_events_tenant_customer_ts",
        "customer_events",
        ["tenant_id", "customer_id", "ts"],
    )


def downgrade() -> None:
    op.drop_index("ix_customer_events_tenant_customer_ts", table_name="customer_events")
    op.drop_table("customer_events")
    op.drop_index("ix_segment_transitions_run", table_name="segment_transitions")
    op.drop_index("ix_segment_transitions_segment_customer", table_name="segment_transitions")
    op.drop_table("segment_transitions")
    op.drop_index("ix_segment_members_customer_id", table_name="segment_members")
    op.drop_table("segment_members")
    op.drop_index("ix_segment_runs_segment_started", table_name="segment_runs")
    op.drop_table("segment_runs")
    op.drop_table("segment_versions")
    op.drop_table("segments")
