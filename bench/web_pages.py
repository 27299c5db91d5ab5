"""The review pages with 10,000 violations in the store, and seek-to-play on a two-hour call.

1. Server-side render time (p95 over 200 requests each, in-process client, SQLite) of ``/review``
   (first pages and filtered ones) and ``/review/{id}`` (random violations), against a same-run
   baseline: ``GET /v1/healthz`` through the same client (the fixed cost of a request). Budget
   (UI.md): ≤ 300 ms p95 for each page.
2. Seek-to-play latency in Debian chromium on loopback: the review player's source is a 2-hour
   8 kHz WAV (115 MB) served with HTTP Range; each trial sets ``currentTime`` to a point deep in
   the call and times ``play()`` until the ``playing`` event. Budget ≤ 1 s (the worst trial).
"""

from __future__ import annotations

import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import soundfile as sf
from fastapi.testclient import TestClient
from rich.console import Console

from qc_service.conversations.models import Conversation, Message
from qc_service.customers.models import Customer
from qc_service.db.session import write_transaction
from qc_service.main import create_app
from qc_service.review.models import Appeal, Evidence, Violation
from qc_service.tenancy.models import Employee

N_VIOLATIONS = 10_000
REQUESTS = 200
PAGE_BUDGET_MS = 300.0
SEEK_BUDGET_S = 1.0
RULES = ("redline.red-packet", "redline.private-wechat", "service.shouting", "script.greeting")


def _seed(store: object) -> list[int]:
    """10,000 conversations of 50 agents in 5 teams, one violation each, half of them appealed."""
    now = datetime.now(UTC)
    rng = random.Random(7)
    with write_transaction(store.session_factory) as db:  # type: ignore[attr-defined]
        from qc_service.tenancy.models import Tenant

        if db.get(Tenant, "default") is None:
            db.add(Tenant(id="default", settings={}))
            db.flush()
        emps = [Employee(tenant_id="default", external_id=f"be{i}", name=f"坐席{i}", team=f"组{i % 5}")
                for i in range(50)]  # fmt: skip
        custs = [
            Customer(tenant_id="default", external_id=f"bc{i}", name=f"客户{i}")
            for i in range(1000)
        ]
        db.add_all(emps + custs)
        db.flush()
        for i in range(N_VIOLATIONS):
            at = now - timedelta(minutes=i * 7)
            conv = Conversation(tenant_id="default", external_id=f"bench-{i}", channel="wecom",
                                employee_id=emps[i % 50].id, customer_id=custs[i % 1000].id,
                                started_at=at, status="analysed", closed=True)  # fmt: skip
            conv.messages = [Message(external_id=f"m{j}", seq=j, role=("customer", "agent")[j % 2],
                                     text=f"第{j}句：加我私人微信给您返现红包，电话13812345678", ts=at)
                             for j in range(12)]  # fmt: skip
            db.add(conv)
            v = Violation(tenant_id="default", conversation=conv, rule_id=rng.choice(RULES), rule_version=1,
                          severity=rng.choice(("low", "medium", "high", "critical")),
                          status="appealed" if i % 2 else "open", created_at=at)  # fmt: skip
            v.evidence = [
                Evidence(
                    kind="span",
                    message_external_id="m3",
                    role="agent",
                    start=4,
                    end=9,
                    text="加我私人微",
                )
            ]
            db.add(v)
            if i % 2:
                db.add(Appeal(violation=v, reason="客户主动要求的联系方式" * 3, appellant=f"be{i % 50}",
                              created_at=at + timedelta(minutes=1)))  # fmt: skip
            if i % 1000 == 999:
                db.flush()
    with store.session_factory() as db:  # type: ignore[attr-defined]
        from sqlalchemy import select

        return list(db.scalars(select(Violation.id)))


def _p95(samples: list[float]) -> float:
    return statistics.quantiles(samples, n=20)[18]


def _time(client: TestClient, urls: list[str], headers: dict[str, str]) -> list[float]:
    out = []
    for url in urls:
        t0 = time.perf_counter()
        r = client.get(url, headers=headers)
        out.append((time.perf_counter() - t0) * 1000)
        assert r.status_code == 200, (url, r.status_code, r.text[:300])
    return out


def pages(tmp: Path) -> bool:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    from factories import bearer

    from qc_service.config import Settings
    from qc_service.store import open_store

    store = open_store(Settings(database_url=f"sqlite:///{tmp / 'qc.db'}", data_dir=tmp / "data",
                                sweep_interval_seconds=3600))  # fmt: skip
    ids = _seed(store)
    headers = {**bearer(store, "reviewer", username="bench-qa"), "accept": "text/html"}
    rng = random.Random(1)
    queue_urls = [rng.choice(["/review", "/review?status=all", f"/review?team=组{rng.randrange(5)}",
                              f"/review?rule={rng.choice(RULES)}", f"/review?agent=be{rng.randrange(50)}",
                              "/review?since=2026-01-01&until=2027-12-31"]) for _ in range(REQUESTS)]  # fmt: skip
    detail_urls = [f"/review/{rng.choice(ids)}" for _ in range(REQUESTS)]
    ok = True
    with TestClient(create_app(store.settings, store=store)) as client:
        _time(client, queue_urls[:10] + detail_urls[:10], headers)  # warm-up
        base = _time(client, ["/v1/healthz"] * REQUESTS, headers)
        for name, urls in (("/review", queue_urls), ("/review/{id}", detail_urls)):
            got = _time(client, urls, headers)
            p95 = _p95(got)
            ok &= p95 <= PAGE_BUDGET_MS
            print(f"web_pages: {name:14s} p95 {p95:6.1f} ms (median {statistics.median(got):.1f} ms; "
                  f"{p95 / _p95(base):.1f}x the healthz baseline {_p95(base):.1f} ms) with {N_VIOLATIONS:,} "
                  f"violations — budget {PAGE_BUDGET_MS:.0f} ms: {'ok' if p95 <= PAGE_BUDGET_MS else 'OVER'}")  # fmt: skip
    store.close()
    return ok


def seek(tmp: Path) -> bool:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "browser"))
    from harness import ARGS, CHROMIUM, live_server, login, new_context, open_store_at
    from playwright.sync_api import sync_playwright

    from qc_service.cli import store_cmds

    store = open_store_at(tmp)
    audio = tmp / "data" / "audio" / "two-hours.wav"
    audio.parent.mkdir(parents=True, exist_ok=True)
    rate, seconds = 8000, 2 * 3600
    with sf.SoundFile(audio, "w", samplerate=rate, channels=1, subtype="PCM_16") as f:
        t = np.arange(rate * 60) / rate
        minute = (0.2 * np.sin(2 * np.pi * 220 * t)).astype(np.float32)
        for _ in range(seconds // 60):
            f.write(minute)
    from qc_service.pipeline.files import ingest_one

    ingest_one(store, {"id": "long-call", "channel": "call", "employee": {"id": "e1"}, "customer": {"id": "u1"},
                       "call": {"audio": "audio/two-hours.wav", "channels": {"agent": 0}},
                       "messages": [{"id": "s1", "role": "agent", "text": "您好", "start": 1.0, "end": 2.0}]},
               final=False)  # fmt: skip
    store_cmds.print_demo_users(store, Console(quiet=True))
    trials = [5400.0, 6900.0, 1800.0, 7100.0, 3600.0]
    times = []
    with live_server(store) as live, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        page = new_context(browser, live).new_page()
        login(page, live, "demo-reviewer")
        page.goto(f"{live.url}/conversations/long-call")
        page.wait_for_function("document.getElementById('player').readyState >= 1", timeout=30_000)
        for at in trials:
            took = page.evaluate("""(at) => new Promise((done) => {
                const a = document.getElementById('player'); a.pause();
                const t0 = performance.now();
                a.addEventListener('playing', () => done((performance.now() - t0) / 1000), {once: true});
                a.currentTime = at; a.play().catch(() => {});
            })""", at)  # fmt: skip
            times.append(took)
        browser.close()
    store.close()
    worst = max(times)
    print(f"web_pages: seek-to-play on a 2-hour WAV ({audio.stat().st_size / 1e6:.0f} MB, Range): "
          f"median {statistics.median(times):.3f} s, worst {worst:.3f} s over {len(times)} seeks — "
          f"budget {SEEK_BUDGET_S:.0f} s: {'ok' if worst <= SEEK_BUDGET_S else 'OVER'}")  # fmt: skip
    return worst <= SEEK_BUDGET_S


def run() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        for name, measure in (("pages", pages), ("seek", seek)):
            (Path(tmp) / name).mkdir()
            measure(Path(tmp) / name)


if __name__ == "__main__":
    run()
