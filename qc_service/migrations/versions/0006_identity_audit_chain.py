"""identity (users, tokens, sessions, login failures), the append-only audit chain, customer owner source, tag overrides

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-04 17:00:00.000000

Events written before this revision are chained in id order, so ``qc audit verify`` covers them;
from here on, triggers refuse UPDATE and DELETE on ``audit_events`` (SQLite and PostgreSQL).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from qc_service.audit.chain import GENESIS, canonical, link
from qc_service.db.base import JSONType, UTCDateTime

revision: str = '0006'
down_revision: str | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_SQLITE_TRIGGERS = [
    "CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events "
    "BEGIN SELECT RAISE(ABORT, 'audit_events is append-only'); END",
    "CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events "
    "BEGIN SELECT RAISE(ABORT, 'audit_events is append-only'); END",
]
_PG_TRIGGERS = [
    "CREATE OR REPLACE FUNCTION audit_events_append_only() RETURNS trigger LANGUAGE plpgsql AS "
    "$$ BEGIN RAISE EXCEPTION 'audit_events is append-only'; END $$",
    "CREATE TRIGGER audit_events_no_change BEFORE UPDATE OR DELETE ON audit_events "
    "FOR EACH ROW EXECUTE FUNCTION audit_events_append_only()",
    "CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events "
    "FOR EACH STATEMENT EXECUTE FUNCTION audit_events_append_only()",
]


def upgrade() -> None:
    op.create_table('users',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('username', sa.String(length=128), nullable=False),
    sa.Column('tenant_id', sa.String(length=64), nullable=False),
    sa.Column('role', sa.String(length=32), nullable=False),
    sa.Column('display_name', sa.String(length=255), nullable=True),
    sa.Column('employee_id', sa.String(length=255), nullable=True),
    sa.Column('teams', sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False),
    sa.Column('password_hash', sa.String(length=255), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('disabled_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_users')),
    sa.UniqueConstraint('username', name=op.f('uq_users_username'))
    )
    op.create_index(op.f('ix_users_tenant_id'), 'users', ['tenant_id'], unique=False)
    op.create_table('api_tokens',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=True),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('prefix', sa.String(length=16), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_api_tokens_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_api_tokens')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_api_tokens_token_hash'))
    )
    op.create_index(op.f('ix_api_tokens_user_id'), 'api_tokens', ['user_id'], unique=False)
    op.create_table('web_sessions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('session_hash', sa.String(length=64), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('csrf_token', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_seen_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ended_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_web_sessions_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_web_sessions')),
    sa.UniqueConstraint('session_hash', name=op.f('uq_web_sessions_session_hash'))
    )
    op.create_index(op.f('ix_web_sessions_user_id'), 'web_sessions', ['user_id'], unique=False)
    op.create_table('login_failures',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('username', sa.String(length=128), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_login_failures'))
    )
    op.create_index('ix_login_failures_username_at', 'login_failures', ['username', 'at'], unique=False)

    op.add_column('customers', sa.Column('owner_source', sa.String(length=16), nullable=True))
    op.add_column('customers', sa.Column('owner_since', sa.DateTime(timezone=True), nullable=True))
    for column in (sa.Column('override', sa.String(length=16), nullable=True),
                   sa.Column('override_by', sa.String(length=255), nullable=True),
                   sa.Column('override_at', sa.DateTime(timezone=True), nullable=True),
                   sa.Column('override_reason', sa.String(length=1000), nullable=True),
                   sa.Column('confirmed_by', sa.String(length=255), nullable=True),
                   sa.Column('confirmed_at', sa.DateTime(timezone=True), nullable=True)):
        op.add_column('customer_tags', column)
    # a removal by a person before this revision becomes the sticky override it now is
    op.execute("UPDATE customer_tags SET override = 'removed', override_by = removed_by, override_at = removed_at "
               "WHERE removed_at IS NOT NULL AND removed_by IS NOT NULL AND removed_by <> 'system'")
    op.add_column('audit_events', sa.Column('reason', sa.Text(), nullable=True))
    op.add_column('audit_events', sa.Column('prev_hash', sa.String(length=64), nullable=True))
    op.add_column('audit_events', sa.Column('hash', sa.String(length=64), nullable=True))
    _chain_existing()
    op.create_index('ix_audit_events_hash', 'audit_events', ['hash'], unique=True)
    op.create_index('ix_audit_events_tenant_id_created_at', 'audit_events', ['tenant_id', 'created_at'], unique=False)
    statements = _PG_TRIGGERS if op.get_bind().dialect.name == "postgresql" else _SQLITE_TRIGGERS
    for statement in statements:
        op.execute(statement)


def _chain_existing() -> None:
    """Chain the events written before this revision, oldest first."""
    bind = op.get_bind()
    t = sa.table('audit_events', sa.column('id', sa.Integer), sa.column('tenant_id'), sa.column('actor'),
                 sa.column('action'), sa.column('entity_type'), sa.column('entity_id'),
                 sa.column('before', JSONType), sa.column('after', JSONType),
                 sa.column('created_at', UTCDateTime()), sa.column('reason'),
                 sa.column('prev_hash'), sa.column('hash'))
    prev = GENESIS
    for row in bind.execute(sa.select(t).order_by(t.c.id)).mappings().all():
        own = link(prev, canonical(
            tenant_id=row['tenant_id'], actor=row['actor'], action=row['action'],
            entity_type=row['entity_type'], entity_id=row['entity_id'], reason=row['reason'],
            before=row['before'], after=row['after'], created_at=row['created_at'],
        ))
        bind.execute(sa.update(t).where(t.c.id == row['id']).values(prev_hash=prev, hash=own))
        prev = own


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS audit_events_no_change ON audit_events")
        op.execute("DROP TRIGGER IF EXISTS audit_events_no_truncate ON audit_events")
        op.execute("DROP FUNCTION IF EXISTS audit_events_append_only()")
    else:
        op.execute("DROP TRIGGER IF EXISTS audit_events_no_update")
        op.execute("DROP TRIGGER IF EXISTS audit_events_no_delete")
    op.drop_index('ix_audit_events_tenant_id_created_at', table_name='audit_events')
    op.drop_index('ix_audit_events_hash', table_name='audit_events')
    with op.batch_alter_table('audit_events') as batch:
        batch.drop_column('hash')
        batch.drop_column('prev_hash')
        batch.drop_column('reason')
    with op.batch_alter_table('customer_tags') as batch:
        for name in ('confirmed_at', 'confirmed_by', 'override_reason', 'override_at', 'override_by', 'override'):
            batch.drop_column(name)
    with op.batch_alter_table('customers') as batch:
        batch.drop_column('owner_since')
        batch.drop_column('owner_source')
    op.drop_index('ix_login_failures_username_at', table_name='login_failures')
    op.drop_table('login_failures')
    op.drop_index(op.f('ix_web_sessions_user_id'), table_name='web_sessions')
    op.drop_table('web_sessions')
    op.drop_index(op.f('ix_api_tokens_user_id'), table_name='api_tokens')
    op.drop_table('api_tokens')
    op.drop_index(op.f('ix_users_tenant_id'), table_name='users')
    op.drop_table('users')
