"""decisions carry who decided and a reason code (UI.md: the review page's 理由; 已由 <name> 处理)

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04 19:20:00.000000

Decisions made before this revision keep ``decided_by``/``reason_code`` empty; their audit events
still name the reviewer.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0007'
down_revision: str | None = '0006'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("violations") as batch:
        batch.add_column(sa.Column("decided_by", sa.String(255), nullable=True))
        batch.add_column(sa.Column("reason_code", sa.String(64), nullable=True))
    with op.batch_alter_table("appeals") as batch:
        batch.add_column(sa.Column("reason_code", sa.String(64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("appeals") as batch:
        batch.drop_column("reason_code")
    with op.batch_alter_table("violations") as batch:
        batch.drop_column("reason_code")
        batch.drop_column("decided_by")
