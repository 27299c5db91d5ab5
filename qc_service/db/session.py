"""Engines and session factories, configured per backend in one place.

Why: SQLite needs per-connection settings (WAL so readers do not block the writer, foreign keys,
a busy timeout, and SQLAlchemy-emitted BEGIN so transactions, SAVEPOINTs and DDL behave as on
PostgreSQL); PostgreSQL needs stale pooled connections detected. Callers never repeat that.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import JSON, Connection, Engine, create_engine, event
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

SQLITE_BEGIN_OPTION = "qc_sqlite_begin"
"""Execution option naming the statement that opens a SQLite transaction.

Set it to ``"BEGIN IMMEDIATE"`` on a connection to take the write lock up front (the migrator does,
so two processes starting at once run the upgrade one after the other)."""

_SQLITE_BEGIN_STATEMENTS = frozenset({"BEGIN", "BEGIN IMMEDIATE", "BEGIN EXCLUSIVE"})
_SQLITE_BUSY_SECONDS = 5.0


def _json_dumps(value: Any) -> str:
    # Chinese text stays readable (and half the size of \uXXXX escapes) in SQLite JSON columns.
    return json.dumps(value, ensure_ascii=False)


def _sqlite_on_connect(dbapi_connection: Any, _connection_record: Any) -> None:
    # Let SQLAlchemy, not the sqlite3 module, decide when a transaction begins (see _sqlite_begin).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        # busy_timeout first, so the statements below wait for locks instead of failing at once.
        cursor.execute(f"PRAGMA busy_timeout={int(_SQLITE_BUSY_SECONDS * 1000)}")
        cursor.execute("PRAGMA foreign_keys=ON")
        # WAL + synchronous=NORMAL: durable against a crash of the process; a power loss may lose
        # the last commits. The usual setting for WAL; fsync on every commit tripled ingest latency.
        cursor.execute("PRAGMA synchronous=NORMAL")
        _enable_wal(cursor)
    finally:
        cursor.close()


def _enable_wal(cursor: Any) -> None:
    # Two processes switching a brand-new file to WAL at once: the loser gets "database is locked"
    # at once, without the busy timeout (SQLite will not wait while holding a read lock). Retry.
    deadline = time.monotonic() + _SQLITE_BUSY_SECONDS
    while True:
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() >= deadline:
                raise
            time.sleep(0.02)


def _sqlite_begin(conn: Connection) -> None:
    statement = conn.get_execution_options().get(SQLITE_BEGIN_OPTION, "BEGIN")
    if statement not in _SQLITE_BEGIN_STATEMENTS:
        raise ValueError(
            f"{SQLITE_BEGIN_OPTION}={statement!r}: not one of {_SQLITE_BEGIN_STATEMENTS}"
        )
    conn.exec_driver_sql(statement)


def make_engine(url: str) -> Engine:
    """An engine for ``url`` (SQLite file or memory, or ``postgresql+psycopg://``), ready to use.

    SQLite: the database file's directory is created; every connection gets WAL, foreign keys and
    a 5 s busy timeout (``sqlite:///:memory:`` and ``sqlite://`` stay in memory), and SQLAlchemy emits BEGIN itself (the sqlite3 module's legacy mode would
    autocommit DDL and break SAVEPOINTs). PostgreSQL: pooled connections are pinged before use.
    """
    sa_url = make_url(url)
    if sa_url.get_backend_name() == "sqlite":
        database = sa_url.database
        if database and database != ":memory:" and sa_url.query.get("mode") != "memory":
            if not database.startswith("file:"):
                Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(sa_url, json_serializer=_json_dumps)
        event.listen(engine, "connect", _sqlite_on_connect)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    return create_engine(sa_url, json_serializer=_json_dumps, pool_pre_ping=True)


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions bound to ``engine``; objects stay readable after commit (no expire_on_commit)."""
    return sessionmaker(bind=engine, expire_on_commit=False)


@contextmanager
def write_transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """A session in a transaction meant to write; commits on success, rolls back on error.

    Why: on SQLite a deferred transaction that read and then writes after another writer
    committed fails at once (SQLITE_BUSY_SNAPSHOT, no busy wait). Taking the write lock up front
    (``BEGIN IMMEDIATE``) makes concurrent writers queue instead; PostgreSQL needs nothing.
    """
    with factory() as db_session, db_session.begin():
        if db_session.get_bind().dialect.name == "sqlite":
            db_session.connection(execution_options={SQLITE_BEGIN_OPTION: "BEGIN IMMEDIATE"})
        yield db_session


def insert_rows(db_session: Session, model: Any, rows: list[dict[str, Any]]) -> None:
    """Insert many rows (all with the same keys) in the session's transaction: ``COPY`` on
    PostgreSQL, one cached statement with the driver's executemany on SQLite.

    Why not ``db_session.add``: a segment run writes hundreds of thousands of member, transition,
    tag and outbox rows; the ORM's unit of work costs ~10x more per row than COPY.
    """
    if not rows:
        return
    table = model.__table__
    if db_session.get_bind().dialect.name != "postgresql" or len(rows) < 50:
        db_session.execute(table.insert(), rows)
        return
    cols = list(rows[0])
    json_cols = {c for c in cols if isinstance(table.c[c].type, JSON | JSONB)}
    cursor = db_session.connection().connection.driver_connection.cursor()  # type: ignore[union-attr]
    quoted = ", ".join(f'"{c}"' for c in cols)
    with cursor.copy(f'COPY "{table.name}" ({quoted}) FROM STDIN') as copy:
        for row in rows:
            copy.write_row(
                [
                    _json_dumps(row[c]) if c in json_cols and row[c] is not None else row[c]
                    for c in cols
                ]
            )
