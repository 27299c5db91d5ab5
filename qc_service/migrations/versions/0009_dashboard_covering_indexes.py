"""violations carry their agent, channel and time to decide; the dashboard's covering indexes

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-05 09:00:00.000000

Why: measured with 100,000 violations over 90 days (``bench/dashboard.py``), the 0008 time
indexes left the dashboard at 2-4 s a page on SQLite: every figure joined the conversation and
the agent of each violation and read the table row for its status. With the agent and channel
copied onto the violation (both are fixed when a conversation is created) and indexes that hold
every column a figure reads, each count is an index-only range scan. ``decide_seconds`` lets the
reviewers' medians be computed in SQL instead of loading every decision.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CREATED = [
    "tenant_id",
    "created_at",
    "status",
    "rule_id",
    "employee_id",
    "channel",
    "conversation_id",
]
DECIDED = ["tenant_id", "decided_at", "status", "rule_id", "employee_id", "channel", "reason_code",
           "decided_by", "decide_seconds"]  # fmt: skip


def _aware(value: datetime | str) -> datetime:
    if isinstance(value, str):  # SQLite hands back text in raw SQL
        value = datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _backfill_decide_seconds() -> None:
    conn = op.get_bind()
    rows = conn.execute(sa.text(
        "SELECT v.id, v.decided_at, v.created_at, (SELECT max(a.created_at) FROM appeals a "
        "WHERE a.violation_id = v.id) FROM violations v WHERE v.decided_at IS NOT NULL"
    )).all()  # fmt: skip
    params = [
        {"id": vid, "s": max(0.0, (_aware(decided) - _aware(appealed or created)).total_seconds())}
        for vid, decided, created, appealed in rows
    ]
    if params:
        conn.execute(sa.text("UPDATE violations SET decide_seconds = :s WHERE id = :id"), params)


def upgrade() -> None:
    op.drop_index("ix_violations_tenant_created", table_name="violations")
    op.drop_index("ix_violations_tenant_decided", table_name="violations")
    # plain ADD COLUMN, not a batch copy: on SQLite the copy drops the old table, which the
    # appeals that reference violations refuse and the evidence would be cascaded away with
    op.add_column("violations", sa.Column("employee_id", sa.Integer(), nullable=True))
    op.add_column("violations", sa.Column("channel", sa.String(16), nullable=True))
    op.add_column("violations", sa.Column("decide_seconds", sa.Float(), nullable=True))
    op.execute(
        "UPDATE violations SET "
        "employee_id = (SELECT c.employee_id FROM conversations c WHERE c.id = violations.conversation_id), "
        "channel = (SELECT c.channel FROM conversations c WHERE c.id = violations.conversation_id)"
    )
    _backfill_decide_seconds()
    op.create_index("ix_violations_tenant_created", "violations", CREATED)
    op.create_index("ix_violations_tenant_decided", "violations", DECIDED)
    op.drop_index("ix_conversations_tenant_analysed", table_name="conversations")
    op.create_index("ix_conversations_tenant_analysed", "conversations",
                    ["tenant_id", "analysed_at", "employee_id", "channel"])  # fmt: skip
    op.drop_index("ix_appeals_created_at", table_name="appeals")
    op.create_index("ix_appeals_created_at", "appeals", ["created_at", "violation_id"])


def downgrade() -> None:
    op.drop_index("ix_appeals_created_at", table_name="appeals")
    op.create_index("ix_appeals_created_at", "appeals", ["created_at"])
    op.drop_index("ix_conversations_tenant_analysed", table_name="conversations")
    op.create_index(
        "ix_conversations_tenant_analysed", "conversations", ["tenant_id", "analysed_at"]
    )
    op.drop_index("ix_violations_tenant_decided", table_name="violations")
    op.drop_index("ix_violations_tenant_created", table_name="violations")
    for column in ("decide_seconds", "channel", "employee_id"):  # in place (SQLite ≥ 3.35)
        op.drop_column("violations", column)
    op.create_index("ix_violations_tenant_created", "violations", ["tenant_id", "created_at"])
    op.create_index("ix_violations_tenant_decided", "violations", ["tenant_id", "decided_at"])
