"""``/dashboard`` with 100,000 violations over 90 days, on SQLite and on PostgreSQL.

Server-side time (in-process client) p95 over repeated requests for: the default view (last 7
days) as a manager of two teams, the whole 90 days as an admin, and filtered views (team, rule,
agent, channel); plus ``GET /v1/dashboard/kpis``. Same-run baseline: ``GET /v1/healthz`` through
the same client. Budget (issue 15): ≤ 500 ms p95 for each view.

The store is filled with SQL bulk inserts (100,000 conversations, one violation each, 30 %
decided, 20 % appealed) — the dashboard reads only these tables' counts, not messages.
"""

from __future__ import annotations

import os
import random
import secrets
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import insert, select, text

from qc_service.config import Settings
from qc_service.conversations.models import Conversation
from qc_service.customers.models import Customer
from qc_service.db.session import write_transaction
from qc_service.main import create_app
from qc_service.review.models import Appeal, Violation
from qc_service.store import Store, open_store
from qc_service.tenancy.models import Employee, Tenant

N = 100_000
DAYS = 90
REQUESTS = 30
BUDGET_MS = 500.0
RULES = [f"bench.rule-{i}" for i in range(10)]
CHANNELS = ("wecom", "sms", "call")
PG_ADMIN_URL = os.environ.get(
    "QC_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


def _seed(store: Store) -> None:
    rng = random.Random(15)
    now = datetime.now(UTC)
    with write_transaction(store.session_factory) as db:
        if db.get(Tenant, "default") is None:
            db.add(Tenant(id="default", settings={}))
            db.flush()
        emps = [Employee(tenant_id="default", external_id=f"be{i}", name=f"坐席{i}", team=f"组{i % 5}")
                for i in range(50)]  # fmt: skip
        custs = [
            Customer(tenant_id="default", external_id=f"bc{i}", name=f"客户{i}")
            for i in range(2000)
        ]
        db.add_all(emps + custs)
        db.flush()
        emp_ids, cust_ids = [e.id for e in emps], [c.id for c in custs]
        base = db.scalar(select(Conversation.id).order_by(Conversation.id.desc()).limit(1)) or 0
        convs, viols = [], []
        for i in range(N):
            at = now - timedelta(seconds=rng.uniform(0, DAYS * 86400))
            channel, employee_id = rng.choice(CHANNELS), rng.choice(emp_ids)
            convs.append({"id": base + i + 1, "tenant_id": "default", "external_id": f"bd-{i}",
                          "channel": channel, "employee_id": employee_id,
                          "customer_id": rng.choice(cust_ids), "started_at": at, "status": "analysed",
                          "closed": True, "stage_errors": [], "extra": {}, "analysed_at": at,
                          "analysis_attempts": 1, "revision": 0, "created_at": at, "updated_at": at})  # fmt: skip
            roll = rng.random()
            status = (
                "overturned"
                if roll < 0.15
                else "upheld"
                if roll < 0.3
                else "appealed"
                if roll < 0.4
                else "open"
            )
            decided = (
                at + timedelta(hours=rng.uniform(1, 60))
                if status in ("upheld", "overturned")
                else None
            )
            viols.append({"tenant_id": "default", "conversation_id": base + i + 1, "employee_id": employee_id,
                          "channel": channel, "rule_id": rng.choice(RULES),
                          "rule_version": 1, "severity": "high", "status": status, "deduct": 0, "fatal": False,
                          "actions": [], "decided_at": decided, "decided_by": "bench-qa" if decided else None,
                          "decide_seconds": (decided - at).total_seconds() if decided else None,
                          "reason_code": "rule_too_strict" if status == "overturned" else None,
                          "created_at": at, "updated_at": at})  # fmt: skip
        for chunk in range(0, N, 5000):
            db.execute(insert(Conversation), convs[chunk : chunk + 5000])
            db.execute(insert(Violation), viols[chunk : chunk + 5000])
        rows = db.execute(select(Violation.id, Violation.created_at, Violation.status)
                          .where(Violation.status.in_(("appealed", "upheld", "overturned")))).all()  # fmt: skip
        appeals = [{"violation_id": vid, "reason": "客户先提的", "appellant": "be1",
                    "created_at": at + timedelta(minutes=30)}
                   for vid, at, status in rows if status == "appealed" or vid % 3 == 0]  # fmt: skip
        for chunk in range(0, len(appeals), 5000):
            db.execute(insert(Appeal), appeals[chunk : chunk + 5000])


def _p95(samples: list[float]) -> float:
    return statistics.quantiles(samples, n=20)[18]


def _time(client: TestClient, url: str, headers: dict[str, str], n: int) -> list[float]:
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        r = client.get(url, headers=headers)
        out.append((time.perf_counter() - t0) * 1000)
        assert r.status_code == 200, (url, r.status_code, r.text[:300])
    return out


def measure(store: Store, label: str) -> bool:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    from factories import bearer

    t0 = time.perf_counter()
    _seed(store)
    seeded = time.perf_counter() - t0
    # planner statistics, as autovacuum (PostgreSQL) or a periodic ANALYZE (SQLite) keep them in
    # production; measured straight after a bulk insert, PostgreSQL planned the counts 10-50x slower
    with store.engine.connect() as conn:
        conn.execution_options(isolation_level="AUTOCOMMIT").execute(text("ANALYZE"))
    admin = {**bearer(store, "admin", username="bench-admin"), "accept": "text/html"}
    manager = {
        **bearer(store, "manager", username="bench-mgr", teams=["组0", "组1"]),
        "accept": "text/html",
    }
    since90 = (datetime.now(UTC) - timedelta(days=DAYS - 1)).date().isoformat()
    views = [
        ("/dashboard (manager, last 7 days)", "/dashboard", manager),
        ("/dashboard (admin, 90 days)", f"/dashboard?since={since90}", admin),
        ("/dashboard (admin, 90 days, team)", f"/dashboard?since={since90}&team=组3", admin),
        ("/dashboard (admin, 90 days, rule)", f"/dashboard?since={since90}&rule={RULES[4]}", admin),
        (
            "/dashboard (admin, 90 days, agent+channel)",
            f"/dashboard?since={since90}&agent=be7&channel=call",
            admin,
        ),
        ("/v1/dashboard/kpis (admin, 90 days)", f"/v1/dashboard/kpis?since={since90}", admin),
    ]
    ok = True
    with TestClient(
        create_app(store.settings, store=store, freeze_gc=True)
    ) as client:  # as qc serve
        for _name, url, who in views:
            _time(client, url, who, 2)  # warm-up
        base = _p95(_time(client, "/v1/healthz", admin, REQUESTS))
        print(f"dashboard [{label}]: {N:,} violations over {DAYS} days seeded in {seeded:.1f} s")
        for name, url, who in views:
            got = _time(client, url, who, REQUESTS)
            p95 = _p95(got)
            ok &= p95 <= BUDGET_MS
            print(f"dashboard [{label}]: {name:44s} p95 {p95:6.1f} ms (median {statistics.median(got):6.1f} ms; "
                  f"{p95 / base:5.1f}x healthz {base:.1f} ms) — budget {BUDGET_MS:.0f} ms: "
                  f"{'ok' if p95 <= BUDGET_MS else 'OVER'}")  # fmt: skip
    return ok


def _postgres_url() -> tuple[str, str] | None:
    import psycopg

    plain = PG_ADMIN_URL.replace("postgresql+psycopg://", "postgresql://")
    name = f"qc_bench_{secrets.token_hex(4)}"
    try:
        with psycopg.connect(plain, autocommit=True, connect_timeout=3) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
    except psycopg.OperationalError as exc:
        print(f"dashboard [postgresql]: skipped, server unreachable ({exc})")
        return None
    return PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}", name


def _drop(name: str) -> None:
    import psycopg

    with psycopg.connect(
        PG_ADMIN_URL.replace("postgresql+psycopg://", "postgresql://"), autocommit=True
    ) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def run() -> bool:
    ok = True
    with tempfile.TemporaryDirectory() as tmp:
        store = open_store(Settings(database_url=f"sqlite:///{Path(tmp) / 'qc.db'}", data_dir=Path(tmp) / "data",
                                    sweep_interval_seconds=3600))  # fmt: skip
        try:
            ok &= measure(store, "sqlite")
        finally:
            store.close()
        pg = _postgres_url()
        if pg is not None:
            url, name = pg
            store = open_store(
                Settings(
                    database_url=url, data_dir=Path(tmp) / "pgdata", sweep_interval_seconds=3600
                )
            )
            try:
                ok &= measure(store, "postgresql")
            finally:
                store.close()
                _drop(name)
    return ok


if __name__ == "__main__":
    raise SystemExit(0 if run() else 1)
