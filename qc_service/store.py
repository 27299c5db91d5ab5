"""The store a process works against: engine + session factory, brought to the current schema.

Why one opener: ``qc ingest``, ``qc serve``, ``qc worker`` and ``qc demo`` all start the same
way — migrate an empty or older database, make sure a fresh store runs the built-in pack — and
tests open stores on SQLite and PostgreSQL through the same door.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from qc_service.config import Settings
from qc_service.db.migrate import upgrade_to_head
from qc_service.db.session import make_engine, make_session_factory, write_transaction
from qc_service.rulesets.service import ensure_builtin_pack


@dataclass(slots=True)
class Store:
    """An open database."""

    engine: Engine
    session_factory: sessionmaker[Session]
    settings: Settings

    def close(self) -> None:
        """Release pooled connections."""
        self.engine.dispose()


def open_store(settings: Settings, *, migrate: bool = True) -> Store:
    """Open (and by default migrate) the configured database; the default tenant gets the pack."""
    engine = make_engine(settings.database_url)
    if migrate:
        upgrade_to_head(engine)
    factory = make_session_factory(engine)
    with write_transaction(factory) as db_session:
        ensure_builtin_pack(db_session=db_session, tenant_id=settings.default_tenant)
    return Store(engine, factory, settings)
