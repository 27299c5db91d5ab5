"""Cost of the door: authentication + policy per request, against the same endpoint without it.

``GET /v1/violations?limit=50`` on the demo set (SQLite, in-process client), alternating in one
run between (a) a bearer token (hash lookup, user join) and a manager's scope filter in the query
and (b) the same app with the credential dependency overridden by a fixed whole-tenant principal
(no lookup, no scope clause): both answer 50 violations, both masked. Prints the median of each and
their ratio; target ≤ 1.1×.
"""

from __future__ import annotations

import json
import statistics
import tempfile
import time
from pathlib import Path

from fastapi.testclient import TestClient

from qc_service.config import Settings
from qc_service.db.session import write_transaction
from qc_service.demo import DEMO_FILE
from qc_service.identity import service as identity
from qc_service.identity.policy import Principal
from qc_service.main import create_app
from qc_service.pipeline.files import ingest_one
from qc_service.store import open_store
from qc_service.web.deps import current_user

ROUNDS = 400
TARGET = 1.1


def run() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        store = open_store(
            Settings(database_url=f"sqlite:///{Path(tmp) / 'qc.db'}", sweep_interval_seconds=3600)
        )
        for n, line in enumerate(DEMO_FILE.read_text(encoding="utf-8").splitlines(), 1):
            ingest_one(store, json.loads(line), line=n, final=True)
        with write_transaction(store.session_factory) as db:
            teams = ["销售一组", "理财顾问组", "售后服务组", "销售二组"]
            identity.add_user(db, username="bench-manager", tenant_id="default", role="manager",
                              password=None, teams=teams, actor="bench")  # fmt: skip
            token = identity.create_token(
                db, username="bench-manager", name=None, expires_days=None, actor="bench"
            ).secret
        secured = create_app(store.settings, store=store)
        open_app = create_app(store.settings, store=store)
        fixed = Principal.system("default", "bench")
        open_app.dependency_overrides[current_user] = lambda: fixed
        url = "/v1/violations?limit=50"
        with TestClient(secured) as a, TestClient(open_app) as b:
            a.headers["Authorization"] = f"Bearer {token}"
            ra, rb = a.get(url).json(), b.get(url).json()
            assert len(ra["items"]) == len(rb["items"]) == 50, (len(ra["items"]), len(rb["items"]))
            with_auth, without = [], []
            for _ in range(ROUNDS):
                for client, out in ((a, with_auth), (b, without)):
                    t0 = time.perf_counter()
                    client.get(url)
                    out.append(time.perf_counter() - t0)
        store.close()
    ma, mb = statistics.median(with_auth), statistics.median(without)
    ratio = ma / mb
    print("\n== auth + policy per request (GET /v1/violations?limit=50, demo set, SQLite) ==")
    print(f"without door: {mb * 1000:.2f} ms   with token + manager scope: {ma * 1000:.2f} ms   "
          f"ratio {ratio:.3f}× (target ≤ {TARGET}×) {'PASS' if ratio <= TARGET else 'MISS'}")  # fmt: skip


if __name__ == "__main__":
    run()
