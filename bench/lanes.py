"""Live lanes under a steady load: the API (``qc serve``) and one ``qc worker`` as real processes.

``run``: posts chat records at a steady rate (default 50 messages/s for 60 s; ``QC_BENCH_RATE``,
``QC_BENCH_SECONDS``), half of them with an evaded red line, each closed so its final run
happens. Measures ingest→alert (POST start → the alert on the SSE stream), ingest→final findings
(POST start → the conversation's ``analysed_at``), the Celery hop of our task against a no-op
``ping`` task through the same queue and worker at the same rate, and checks that nothing was lost
or duplicated.

``bench.lanes_semantic`` runs the same load with embeddings off and on.

Needs Redis at 127.0.0.1:6379 (db 14 is used and flushed).
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC

import httpx
import redis
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bench.lanes_services import REDIS_URL, Services, redis_ok, services
from qc_service.alerts.models import Alert
from qc_service.config import Settings
from qc_service.conversations.models import Conversation
from qc_service.db.session import make_engine, make_session_factory
from qc_service.pipeline.celery_app import HOP_KEY, PING_KEY, PING_TASK, create_celery
from qc_service.review.models import Violation

RED_TEXT = "给您发个红*包，下单就返"
PLAIN_TEXT = "您好，请问有什么可以帮您？"
WARM_UP = 5


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


def _record(cid: str, i: int, text: str) -> dict[str, object]:
    return {"id": cid, "channel": "wecom", "closed": True, "employee": {"id": f"e{i % 10}", "team": "销售一组"},
            "customer": {"id": f"u{i}"}, "messages": [{"id": "m1", "role": "agent", "text": text}]}  # fmt: skip


def _fixed_text(i: int) -> str:
    return RED_TEXT if i % 2 == 0 else PLAIN_TEXT


@dataclass
class LoadStats:
    """What one steady load measured."""

    n: int
    rate: float
    seconds: float
    achieved: float
    db: str
    post_ms: list[float]
    to_alert: list[float]
    final: list[float]
    lost: int
    missing_alerts: int
    dup_alerts: int
    dup_violations: int
    violations: int
    red: int
    stored_alerts: int
    stage_errors: int
    post_errors: list[str]
    by_rule: dict[str, int] = field(default_factory=dict)


def _analysed(s: Session, prefix: str) -> int:
    return int(
        s.scalar(
            select(func.count())
            .select_from(Conversation)
            .where(Conversation.status == "analysed", Conversation.external_id.like(f"{prefix}%"))
        )
        or 0
    )


def warm_up(svc: Services, text_for: Callable[[int], str]) -> None:
    """A few records through both lanes before the clock starts (model load, first queries)."""
    for k in range(WARM_UP):
        svc.http.post(
            "/v1/conversations", json={"records": [_record(f"warm-{k}", k, text_for(k))]}
        ).raise_for_status()
        time.sleep(0.2)
    engine = make_engine(svc.db_url)
    deadline = time.monotonic() + 120
    with make_session_factory(engine)() as s:
        while _analysed(s, "warm-") < WARM_UP and time.monotonic() < deadline:
            time.sleep(0.2)
            s.rollback()
    engine.dispose()


def load(
    svc: Services,
    rate: float,
    seconds: float,
    text_for: Callable[[int], str] = _fixed_text,
    senders: int = 1,
) -> LoadStats:
    """Post ``rate`` records/s for ``seconds``. One sender posts in turn (a slow POST delays the
    next: the offered rate drops); several post concurrently, so the schedule holds."""
    http, base, db_url = svc.http, svc.base, svc.db_url
    sent: dict[str, float] = {}
    alert_at: dict[str, float] = {}
    alerts_seen: dict[str, int] = {}
    ready = threading.Event()
    stop = threading.Event()

    def listen() -> None:
        with (
            httpx.Client(base_url=base, timeout=None) as stream_http,
            stream_http.stream("GET", "/v1/alerts/stream") as resp,
        ):
            ready.set()
            for line in resp.iter_lines():
                if stop.is_set():
                    return
                if line.startswith("data:"):
                    event = json.loads(line[5:])
                    cid = event["conversation_id"]
                    alert_at.setdefault(cid, time.time())
                    alerts_seen[cid] = alerts_seen.get(cid, 0) + 1

    threading.Thread(target=listen, daemon=True).start()
    ready.wait(10)
    n = int(rate * seconds)
    post_ms: list[float] = []
    errors: list[str] = []
    local = threading.local()
    clients: list[httpx.Client] = []

    def post(i: int) -> None:
        client = http
        if senders > 1:  # one connection per sender thread
            if not hasattr(local, "client"):
                local.client = httpx.Client(base_url=base, timeout=30)
                clients.append(local.client)
            client = local.client
        cid = f"bench-{i}"
        sent[cid] = time.time()
        start = time.perf_counter()
        try:
            client.post(
                "/v1/conversations", json={"records": [_record(cid, i, text_for(i))]}
            ).raise_for_status()
        except httpx.HTTPError as exc:  # counted and shown (the record then counts as lost)
            errors.append(f"{type(exc).__name__}: {exc}".splitlines()[0])
        post_ms.append((time.perf_counter() - start) * 1000)

    pool = ThreadPoolExecutor(max_workers=senders, thread_name_prefix="bench-post")
    futures = []
    t0 = time.monotonic()
    for i in range(n):
        delay = t0 + i / rate - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        if senders > 1:
            futures.append(pool.submit(post, i))
        else:
            post(i)
    for future in futures:
        future.result()
    achieved = n / (time.monotonic() - t0)
    pool.shutdown()
    for client in clients:
        client.close()
    engine = make_engine(db_url)
    factory = make_session_factory(engine)
    deadline = time.monotonic() + max(120.0, seconds * 4)
    bench = Conversation.external_id.like("bench-%")
    with factory() as s:
        while _analysed(s, "bench-") < n:
            if time.monotonic() > deadline:
                break
            time.sleep(0.5)
            s.rollback()  # end the read transaction: see what the worker committed since
        rows = s.execute(
            select(
                Conversation.external_id,
                Conversation.analysed_at,
                Conversation.status,
                Conversation.stage_errors,
            ).where(bench)
        ).all()
        mine = select(Conversation.id).where(bench)
        violations = s.scalar(
            select(func.count()).select_from(Violation).where(Violation.conversation_id.in_(mine))
        )
        by_rule = dict(
            s.execute(
                select(Violation.rule_id, func.count())
                .where(Violation.conversation_id.in_(mine))
                .group_by(Violation.rule_id)
            ).all()
        )
        dup_violations = s.scalar(
            select(func.count()).select_from(
                select(Violation.conversation_id, Violation.rule_id).where(Violation.conversation_id.in_(mine))
                .group_by(Violation.conversation_id, Violation.rule_id).having(func.count() > 1).subquery()
            )
        )  # fmt: skip
        stored_alerts = s.scalar(
            select(func.count()).select_from(Alert).where(Alert.conversation_id.in_(mine))
        )
    engine.dispose()
    stop.set()
    red = {f"bench-{i}" for i in range(0, n, 2)}
    to_alert = [(alert_at[c] - sent[c]) * 1000 for c in red if c in alert_at]
    final = [
        (at.replace(tzinfo=at.tzinfo or UTC).timestamp() - sent[cid]) * 1000
        for cid, at, status, _ in rows if status == "analysed" and at is not None
    ]  # fmt: skip
    return LoadStats(
        n=n,
        rate=rate,
        seconds=seconds,
        achieved=achieved,
        db=db_url.split(":")[0],
        post_ms=post_ms,
        to_alert=to_alert,
        final=final,
        lost=n - sum(1 for _, _, status, _ in rows if status == "analysed"),
        missing_alerts=len(red - set(alert_at)),
        dup_alerts=sum(1 for c, k in alerts_seen.items() if c in sent and k > 1),
        dup_violations=int(dup_violations or 0),
        violations=int(violations or 0),
        red=len(red),
        stored_alerts=int(stored_alerts or 0),
        stage_errors=sum(1 for *_, errs in rows if errs),
        post_errors=errors,
        by_rule={str(k): int(v) for k, v in by_rule.items()},
    )


def print_load(st: LoadStats, label: str = "lanes") -> None:
    print(
        f"{label}: {st.n} records at {st.achieved:.1f}/s in {st.n / st.achieved:.0f} s "
        f"(planned {st.rate:.0f}/s for {st.seconds:.0f} s; API + 1 worker, {st.db})"
    )
    print(
        f"  POST /v1/conversations      p50 {pct(st.post_ms, 50):6.1f} ms   p99 {pct(st.post_ms, 99):6.1f} ms"
    )
    print(
        f"  ingest→alert (SSE)          p50 {pct(st.to_alert, 50):6.1f} ms   p99 {pct(st.to_alert, 99):6.1f} ms   (target p99 < 50 ms)"
    )
    print(
        f"  ingest→final findings       p50 {pct(st.final, 50):6.1f} ms   p99 {pct(st.final, 99):6.1f} ms   (target p99 < 300 ms)"
    )
    print(f"  lost {st.lost}, not alerted {st.missing_alerts}, duplicated alerts {st.dup_alerts}, duplicated violations {st.dup_violations}; "
          f"violations {st.violations} for {st.red} red-line records, {st.stored_alerts} alerts stored")  # fmt: skip
    if st.post_errors:
        print(f"  POST errors {len(st.post_errors)} (first: {st.post_errors[0]})")


def run() -> None:
    rate = float(os.environ.get("QC_BENCH_RATE", "50"))
    seconds = float(os.environ.get("QC_BENCH_SECONDS", "60"))
    if not redis_ok():
        return
    with services() as svc:
        print_load(load(svc, rate, seconds))
        db_url, queue = svc.db_url, svc.queue
        _hop(rate, min(seconds, 20.0), queue, db_url)


def _hop(rate: float, seconds: float, queue: str, db_url: str) -> None:
    """Our task's hop (queued → done) vs a no-op task's, same queue, worker and rate."""
    client = redis.Redis.from_url(REDIS_URL)
    client.delete(PING_KEY)
    settings = Settings(broker_url=REDIS_URL, celery_queue=queue, database_url=db_url)
    app = create_celery(settings)
    n = int(rate * seconds)
    t0 = time.monotonic()
    for i in range(n):
        delay = t0 + i / rate - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        app.send_task(PING_TASK, args=[time.time()], queue=queue)
    deadline = time.monotonic() + 60
    while client.llen(PING_KEY) < n and time.monotonic() < deadline:
        time.sleep(0.2)
    ping = [float(x) * 1000 for x in client.lrange(PING_KEY, 0, -1)] or [float("nan")]
    hops = [float(x) * 1000 for x in client.lrange(HOP_KEY, 0, -1)] or [float("nan")]
    engine = make_engine(db_url)
    with make_session_factory(engine)() as s:
        rows = s.execute(select(Conversation.analysed_at, Conversation.created_at)).all()
    engine.dispose()
    ours = [(a - c).total_seconds() * 1000 for a, c in rows if a is not None] or [float("nan")]
    print(
        f"  Celery hop (queued → started on the worker): our task p50 {pct(hops, 50):.1f} ms p99 {pct(hops, 99):.1f} ms "
        f"({len(hops)} runs, during the load above); no-op ping at the same rate p50 {pct(ping, 50):.1f} ms "
        f"p99 {pct(ping, 99):.1f} ms ({len(ping)}/{n}); ratio p50 {pct(hops, 50) / pct(ping, 50):.2f}×, "
        f"p99 {pct(hops, 99) / pct(ping, 99):.2f}× (target ≤ 2×)"
    )
    print(
        f"  our whole task (stored → analysed, includes the analysis) p50 {pct(ours, 50):.1f} ms p99 {pct(ours, 99):.1f} ms"
    )


if __name__ == "__main__":
    run()
