"""the dashboard's time indexes and the rule editor's background backtests

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-05 05:30:00.000000

Why these indexes: every dashboard figure is a count over a time column of one tenant
(violations found / decided in the period, conversations analysed, appeals submitted);
``bench/dashboard.py`` measures the page with 100,000 violations over 90 days.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = '0008'
down_revision: str | None = '0007'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_violations_tenant_created", "violations", ["tenant_id", "created_at"])
    op.create_index("ix_violations_tenant_decided", "violations", ["tenant_id", "decided_at"])
    op.create_index("ix_appeals_created_at", "appeals", ["created_at"])
    op.create_index("ix_conversations_tenant_analysed", "conversations", ["tenant_id", "analysed_at"])
    op.create_table(
        "backtest_runs",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("tenant_id", sa.String(64), sa.ForeignKey("tenants.id"), nullable=False),
        sa.Column("draft", sa.Text(), nullable=False),
        sa.Column("draft_hash", sa.String(64), nullable=False),
        sa.Column("rule_ids", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("done", sa.Integer(), nullable=False),
        sa.Column("cancel_requested", sa.Boolean(), nullable=False),
        sa.Column("result", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_by", sa.String(255), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_backtest_runs_tenant_hash", "backtest_runs", ["tenant_id", "draft_hash"])


def downgrade() -> None:
    op.drop_index("ix_backtest_runs_tenant_hash", table_name="backtest_runs")
    op.drop_table("backtest_runs")
    op.drop_index("ix_conversations_tenant_analysed", table_name="conversations")
    op.drop_index("ix_appeals_created_at", table_name="appeals")
    op.drop_index("ix_violations_tenant_decided", table_name="violations")
    op.drop_index("ix_violations_tenant_created", table_name="violations")
