"""The migrations build exactly the schema the models describe, from any revision, at every start."""

from __future__ import annotations

import threading
import traceback
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, insert, inspect, select

from qc_service.db.migrate import alembic_config, current_revision, head_revision, upgrade_to_head
from qc_service.db.session import make_engine
from qc_service.schema import metadata
from qc_service.tenancy.models import Tenant

REVISIONS = [
    script.revision for script in ScriptDirectory.from_config(alembic_config()).walk_revisions()
]


def _schema(engine: Engine) -> dict[str, Any]:
    inspector = inspect(engine)
    return {
        table: (
            [(c["name"], str(c["type"]), c["nullable"]) for c in inspector.get_columns(table)],
            sorted(i["name"] or "" for i in inspector.get_indexes(table)),
            sorted(u["name"] or "" for u in inspector.get_unique_constraints(table)),
            sorted(f["name"] or "" for f in inspector.get_foreign_keys(table)),
        )
        for table in inspector.get_table_names()
    }


def _diff(engine: Engine) -> list[Any]:
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return list(compare_metadata(context, metadata))


def test_empty_database_is_migrated_to_head_with_every_table(db_url: str) -> None:
    engine = make_engine(db_url)
    try:
        assert current_revision(engine) is None
        assert upgrade_to_head(engine) == head_revision()
        assert current_revision(engine) == head_revision()
        tables = set(inspect(engine).get_table_names())
        assert tables == set(metadata.tables) | {"alembic_version"}
    finally:
        engine.dispose()


def test_upgrade_accepts_a_url(db_url: str) -> None:
    assert upgrade_to_head(db_url) == head_revision()
    assert upgrade_to_head(db_url) == head_revision()
    engine = make_engine(db_url)
    try:
        assert current_revision(engine) == head_revision()
    finally:
        engine.dispose()


def test_upgrading_twice_changes_nothing_and_keeps_data(engine: Engine) -> None:
    with engine.begin() as connection:
        connection.execute(insert(Tenant).values(id="t1", name="租户一", settings={}))
    before = _schema(engine)

    assert upgrade_to_head(engine) == head_revision()

    assert _schema(engine) == before
    assert current_revision(engine) == head_revision()
    with engine.connect() as connection:
        assert connection.execute(select(Tenant.name)).scalars().all() == ["租户一"]


def test_migrated_schema_matches_the_models(engine: Engine) -> None:
    assert _diff(engine) == []


@pytest.mark.parametrize("revision", REVISIONS)
def test_database_at_any_older_revision_is_brought_to_head(db_url: str, revision: str) -> None:
    engine = make_engine(db_url)
    try:
        with engine.begin() as connection:
            command.upgrade(alembic_config(connection), revision)
        assert current_revision(engine) == revision

        assert upgrade_to_head(engine) == head_revision()

        assert current_revision(engine) == head_revision()
        assert _diff(engine) == []
    finally:
        engine.dispose()


def test_downgrade_to_base_removes_everything_and_head_rebuilds_it(engine: Engine) -> None:
    with engine.begin() as connection:
        command.downgrade(alembic_config(connection), "base")
    assert set(inspect(engine).get_table_names()) == {"alembic_version"}
    assert current_revision(engine) is None

    upgrade_to_head(engine)

    assert _diff(engine) == []


def test_concurrent_starts_upgrade_once_and_both_succeed(db_url: str) -> None:
    engines = [make_engine(db_url) for _ in range(3)]
    barrier = threading.Barrier(len(engines))
    results: list[str] = []
    errors: list[BaseException] = []

    def start(engine: Engine) -> None:
        barrier.wait()
        try:
            results.append(upgrade_to_head(engine))
        except BaseException as exc:  # collected and asserted below, in the test thread
            errors.append(exc)

    threads = [threading.Thread(target=start, args=(engine,), daemon=True) for engine in engines]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert errors == [], "".join(traceback.format_exception(errors[0]))
        assert results == [head_revision()] * len(engines)
        assert _diff(engines[0]) == []
    finally:
        for engine in engines:
            engine.dispose()
