"""Engines behave the same on SQLite and PostgreSQL: transactions, savepoints, keys, timestamps."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, insert, select, text
from sqlalchemy.exc import IntegrityError, StatementError
from sqlalchemy.orm import Session

from qc_service.db.migrate import upgrade_to_head
from qc_service.db.session import make_engine, make_session_factory
from qc_service.tenancy.models import Employee, Tenant

CST = timezone(timedelta(hours=8))


def test_sqlite_file_gets_its_directory_wal_foreign_keys_and_busy_timeout(tmp_path: Path) -> None:
    db_file = tmp_path / "var" / "nested" / "qc.db"
    engine = make_engine(f"sqlite:///{db_file}")
    try:
        with engine.connect() as connection:
            assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
            assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() == 5000
        assert db_file.exists()
    finally:
        engine.dispose()


def test_in_memory_sqlite_can_be_migrated() -> None:
    engine = make_engine("sqlite://")
    try:
        upgrade_to_head(engine)
        with make_session_factory(engine)() as session:
            session.add(Tenant(id="default", name="默认"))
            session.commit()
            assert session.scalar(select(Tenant.name)) == "默认"
    finally:
        engine.dispose()


def test_rolled_back_transaction_undoes_released_savepoints(engine: Engine) -> None:
    # pysqlite's legacy mode runs a SAVEPOINT outside the transaction; make_engine fixes that.
    with engine.connect() as connection:
        outer = connection.begin()
        connection.execute(insert(Tenant).values(id="a", name="A", settings={}))
        nested = connection.begin_nested()
        connection.execute(insert(Tenant).values(id="b", name="B", settings={}))
        nested.commit()
        nested = connection.begin_nested()
        connection.execute(insert(Tenant).values(id="c", name="C", settings={}))
        nested.rollback()
        ids = connection.execute(select(Tenant.id).order_by("id")).scalars().all()
        assert ids == ["a", "b"]
        outer.rollback()
    with engine.connect() as connection:
        assert connection.execute(select(func.count()).select_from(Tenant)).scalar() == 0


def test_ddl_is_transactional(engine: Engine) -> None:
    with engine.connect() as connection:
        transaction = connection.begin()
        connection.execute(text("CREATE TABLE scratch (id INTEGER PRIMARY KEY)"))
        transaction.rollback()
    with engine.connect() as connection:
        assert not engine.dialect.has_table(connection, "scratch")


def test_foreign_keys_are_enforced(db_session: Session) -> None:
    db_session.add(Employee(tenant_id="no-such-tenant", external_id="e1"))
    with pytest.raises(IntegrityError):
        db_session.flush()


def test_timestamps_come_back_aware_in_utc(db_session: Session) -> None:
    created = datetime(2026, 11, 20, 9, 0, 1, 250_000, tzinfo=CST)
    db_session.add(Tenant(id="default", name="默认", created_at=created))
    db_session.commit()
    db_session.expire_all()

    stored = db_session.scalars(select(Tenant.created_at)).one()

    assert stored == created
    assert stored.utcoffset() == timedelta(0)
    assert stored.tzinfo is UTC


def test_naive_datetimes_are_refused(db_session: Session) -> None:
    db_session.add(Tenant(id="default", name="默认", created_at=datetime(2026, 11, 20, 9, 0)))
    with pytest.raises(StatementError, match="naive datetime"):
        db_session.flush()


def test_objects_stay_loaded_after_commit(engine: Engine) -> None:
    factory = make_session_factory(engine)
    with factory() as session:
        tenant = Tenant(id="default", name="默认")
        session.add(tenant)
        session.commit()
    assert tenant.name == "默认"
    assert tenant.created_at.tzinfo is UTC
