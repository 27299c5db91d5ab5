"""The processes a lanes benchmark measures: ``qc serve`` and one ``qc worker`` on a fresh store.

Why a module of its own: both lanes benchmarks (``bench.lanes``, ``bench.lanes_semantic``) start
the same pair the same way — a fresh SQLite file or a fresh PostgreSQL database per run (two runs
never share conversation ids), a fresh Celery queue on Redis db 14, one thread per process — and
must stop them even when a run fails.
"""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import psycopg
import redis
from sqlalchemy.engine import make_url

REDIS_URL = "redis://127.0.0.1:6379/14"


def _free_port() -> int:

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def redis_ok() -> bool:
    try:
        redis.Redis.from_url(REDIS_URL).ping()
    except redis.RedisError as exc:
        print(f"lanes: skipped, Redis not reachable at {REDIS_URL}: {exc}")
        return False
    return True


@dataclass
class Services:
    """A running API + worker pair on a fresh store and queue."""

    http: httpx.Client
    base: str
    db_url: str
    queue: str


@contextmanager
def services(server_url: str | None = None) -> Iterator[Services]:
    """Start ``qc serve`` and one ``qc worker`` (OMP_NUM_THREADS=1) on a fresh store; stop them
    after. The store: a new database on ``server_url`` (or ``QC_BENCH_DATABASE_URL``), else SQLite."""
    redis.Redis.from_url(REDIS_URL).flushdb()
    workdir = Path(tempfile.mkdtemp(prefix="qc-bench-"))
    db_url = _fresh_database(server_url or os.environ.get("QC_BENCH_DATABASE_URL"), workdir)
    queue = f"qc-bench-{secrets.token_hex(3)}"
    port = _free_port()
    env = {**os.environ, "QC_DATABASE_URL": db_url, "QC_BROKER_URL": REDIS_URL, "QC_CELERY_QUEUE": queue, "QC_ASR_QUEUE": f"{queue}-asr",
           "OMP_NUM_THREADS": "1", "QC_SWEEP_INTERVAL_SECONDS": "30"}  # fmt: skip
    qc = [sys.executable, "-m", "qc_service.cli.main"]
    api_log = (workdir / "api.log").open("w")
    api = subprocess.Popen(
        [*qc, "serve", "--port", str(port)], env=env, stdout=api_log, stderr=subprocess.STDOUT
    )
    worker_log = (workdir / "worker.log").open("w")
    worker = subprocess.Popen(
        [*qc, "worker", "--loglevel", "WARNING"],
        env=env,
        stdout=worker_log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        with httpx.Client(base_url=base, timeout=10) as http:
            deadline = time.monotonic() + 60
            while True:
                try:
                    if http.get("/v1/healthz").status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError(f"API did not start (log: {workdir / 'api.log'})")
                time.sleep(0.1)
            time.sleep(2.0)  # the worker connects to the broker
            yield Services(http, base, db_url, queue)
    finally:
        for proc in (api, worker):
            proc.terminate()
        for proc in (api, worker):
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        api_log.close()
        worker_log.close()
        if db_url.startswith("postgresql"):
            _drop_database(db_url)


def _admin(url: str) -> psycopg.Connection[tuple[object, ...]]:
    u = make_url(url)
    return psycopg.connect(
        host=u.host or "127.0.0.1", port=u.port or 5432, user=u.username or "postgres",
        dbname=u.database or "postgres", autocommit=True,
    )  # fmt: skip


def _fresh_database(server_url: str | None, workdir: Path) -> str:
    """A new, empty store per run: a SQLite file, or a ``qc_bench_<hex>`` PostgreSQL database on
    the server of ``QC_BENCH_DATABASE_URL`` (so two runs never share conversation ids)."""
    if not server_url or not server_url.startswith("postgresql"):
        return f"sqlite:///{workdir / 'qc.db'}"
    name = f"qc_bench_{secrets.token_hex(4)}"
    with _admin(server_url) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return make_url(server_url).set(database=name).render_as_string(hide_password=False)


def _drop_database(url: str) -> None:
    name = make_url(url).database
    with _admin(
        make_url(url).set(database="postgres").render_as_string(hide_password=False)
    ) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


LOCAL_POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def postgres_server() -> str | None:
    """``QC_BENCH_DATABASE_URL``, else the local PostgreSQL when it answers, else None (SQLite)."""
    url = os.environ.get("QC_BENCH_DATABASE_URL", LOCAL_POSTGRES)
    if not url.startswith("postgresql"):
        return None
    try:
        with _admin(url):
            return url
    except psycopg.OperationalError:
        return None
