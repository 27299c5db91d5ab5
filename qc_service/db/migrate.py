"""Bring a database to the current schema with Alembic, from code, at every start.

Why programmatic: ``qc serve``, ``qc ingest`` and ``qc worker`` must each upgrade an empty or older
database on start without an ``alembic.ini`` next to the installed package, and must work with an
engine the caller already made (in-memory SQLite in tests). The whole upgrade runs in one
transaction on the caller's connection (passed to env.py as ``config.attributes["connection"]``)
under a lock, so two processes starting at once upgrade one after the other and the second finds
nothing to do: PostgreSQL takes ``pg_advisory_xact_lock``, SQLite opens with ``BEGIN IMMEDIATE``.

Alembic keeps its running context in module globals, so within one process upgrades must not
overlap; the lock is taken before Alembic runs, which serialises threads as well as processes.

New revision (developers): change the models, then autogenerate against a database at head, read
what it wrote (types, names, batch ops for SQLite), and check that nothing is left over::

    export QC_DATABASE_URL=sqlite:///./var/dev.db
    alembic -c qc_service/migrations/alembic.ini upgrade head
    alembic -c qc_service/migrations/alembic.ini revision --autogenerate --rev-id 0002 -m "what"
    alembic -c qc_service/migrations/alembic.ini upgrade head
    alembic -c qc_service/migrations/alembic.ini check

``tests/db/test_migrations.py`` then proves, on SQLite and PostgreSQL, that every revision reaches
head and that the result matches the models.
"""

from __future__ import annotations

import zlib
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, text

from qc_service.db.session import SQLITE_BEGIN_OPTION, make_engine

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"
"""The package's Alembic script directory (env.py, script.py.mako, versions/)."""

MIGRATION_LOCK_KEY = zlib.crc32(b"qc_service.db.migrate")
"""PostgreSQL advisory lock key held while migrating (a fixed 32-bit number)."""


def alembic_config(connection: Connection | None = None) -> Config:
    """An Alembic ``Config`` built in code, pointing at the package's migrations."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR).replace("%", "%%"))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    """The newest revision shipped with this version of the code."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if head is None:
        raise RuntimeError(f"no Alembic revisions found in {MIGRATIONS_DIR}")
    return head


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at (None: never migrated)."""
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def _upgrade(engine: Engine) -> str:
    with engine.connect() as connection:
        if connection.dialect.name == "sqlite":
            connection.execution_options(**{SQLITE_BEGIN_OPTION: "BEGIN IMMEDIATE"})
        with connection.begin():
            if connection.dialect.name == "postgresql":
                connection.execute(
                    text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY}
                )
            command.upgrade(alembic_config(connection), "head")
            revision = MigrationContext.configure(connection).get_current_revision()
    if revision is None:
        raise RuntimeError("database has no Alembic revision after upgrading")
    return revision


def upgrade_to_head(engine_or_url: Engine | str) -> str:
    """Upgrade the database to the newest revision and return it; a no-op when already there.

    Safe to call at every start and from several processes at once. Given a URL, a temporary
    engine is made and disposed of; given an engine, it is used as is (in-memory SQLite included).
    """
    if isinstance(engine_or_url, Engine):
        return _upgrade(engine_or_url)
    engine = make_engine(engine_or_url)
    try:
        return _upgrade(engine)
    finally:
        engine.dispose()
