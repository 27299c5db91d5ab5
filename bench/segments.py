"""Segments at scale: one run over 100,000 customers × 10 segments on SQLite and 1,000,000 × 30
on PostgreSQL (issue 18: inside 5 and 30 minutes on this 2-core machine), time and peak memory.

The store is generated here: each customer 1–5 conversations and 1–40 messages over 90 days, 5 %
with a standing violation, 20 % in a group (some left again), tags and an extracted age on some;
the segments use every leaf of RULES.md. The run happens in a child process (``--run URL``), so
its peak RSS is its own. ``python -m bench.segments --customers 20000 --segments 10`` for a
quick look; ``make bench`` runs both sizes.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from qc_service.config import Settings
from qc_service.db.session import write_transaction
from qc_service.rulesets.service import publish
from qc_service.store import open_store

AS_OF = datetime(2026, 11, 30, 2, 0, tzinfo=UTC)
DAYS = 90
CUSTOMER_LINES = ["这个多少钱", "报价发我一下", "孩子今年三年级", "什么时候上课", "我要退款", "再考虑一下",
                  "好的谢谢", "有优惠吗", "我要投诉你们", "在吗", "课程怎么安排", "可以试听吗", "太贵了",
                  "已经付款了", "发票怎么开", "嗯嗯", "收到", "老师好"]  # fmt: skip
AGENT_LINES = ["您好，请问有什么可以帮您", "这边给您发一下报价", "课程每周两次", "好的，马上为您处理",
               "您看一下这个方案", "加我微信私聊", "退款三个工作日到账", "亲，还在吗"]  # fmt: skip
GROUPS = ["家长群1", "家长群2", "家长群3", "VIP群", "体验课群"]


def segments(n: int) -> list[dict[str, Any]]:
    """``n`` segments cycling through templates that together use every leaf."""
    said = lambda words, window="30d", m=1, role="customer": {  # noqa: E731
        "said": {"cond": {"keyword": {"words": words}}, "window": window, "min": m, "role": role}
    }
    templates: list[dict[str, Any]] = [
        {
            "all": [
                said(["多少钱", "报价", "优惠"], "7d", 2),
                {"silent": {"side": "agent", "over_hours": 48}},
                {"not": {"tag": {"any_of": ["已成交"]}}},
            ]
        },
        {"not": said(["在吗", "好的", "收到", "嗯嗯"], "30d")},
        {"hit": {"rule": "redline.*", "window": "30d"}},
        {
            "all": [
                {"in_group": {"match": "家长群*"}},
                {"attr": {"field": "age", "op": "between", "value": [6, 12]}},
            ]
        },
        {"event": {"type": "group_join", "window": "30d", "where": {"group": "VIP*"}}},
        {"last": {"role": "customer", "before_days": 45}},
        {
            "all": [
                said(["退款", "投诉"], "30d"),
                {"hit": {"rule": "redline.*", "severity_at_least": "high"}},
            ]
        },
        {
            "any": [
                said(["试听", "上课"], "14d"),
                {"in_group": {"match": "体验课群", "since_days": 3}},
            ]
        },
        {
            "all": [
                {"tag": {"all_of": ["已成交"]}},
                {"last": {"role": "customer", "within_days": 7}},
            ]
        },
        {
            "all": [
                {"in_segment": {"id": "bench.seg-0", "for_days": 0}},
                {"attr": {"field": "age", "op": "exists"}},
            ]
        },
    ]
    out = []
    for i in range(n):
        when = templates[i % len(templates)]
        if i >= len(templates):  # later ones: the same shapes, other windows and words
            when = json.loads(
                json.dumps(when).replace('"30d"', f'"{20 + i}d"').replace('"7d"', f'"{5 + i % 5}d"')
            )
        out.append({"id": f"bench.seg-{i}", "name": f"分组{i}", "when": when,
                    "on_enter": [{"tag_customer": f"分组{i}"}], "hold": {"min_days": 1}})  # fmt: skip
    return out


def _rows(customers: int, seed: int = 18) -> dict[str, list[tuple[Any, ...]]]:
    """Every table's rows as tuples (ids given, so children can point at parents)."""
    rng = random.Random(seed)
    now = AS_OF
    out: dict[str, list[tuple[Any, ...]]] = {k: [] for k in (
        "customers", "conversations", "messages", "violations", "evidence", "customer_tags", "customer_events")}  # fmt: skip
    conv_id = msg_id = viol_id = 0
    for c in range(1, customers + 1):
        extra = {"values": {"age": rng.randint(4, 15)}} if rng.random() < 0.3 else {}
        out["customers"].append(
            (c, "default", f"sc{c}", f"客户{c}", f"e{c % 200}", json.dumps(extra), "{}", now, now)
        )
        n_msgs = rng.randint(1, 40)
        n_convs = min(rng.randint(1, 5), n_msgs)
        first_conv = conv_id + 1
        for k in range(n_convs):
            conv_id += 1
            start = now - timedelta(seconds=rng.uniform(0, DAYS * 86400))
            share = n_msgs // n_convs + (1 if k < n_msgs % n_convs else 0)
            out["conversations"].append((conv_id, "default", f"sc{c}-{k}", "wecom", 1 + c % 200, c, start,
                                         "analysed", True, "[]", "{}", 0, 0, start, start))  # fmt: skip
            for j in range(share):
                msg_id += 1
                role = "customer" if j % 2 == 0 else "agent"
                text = rng.choice(CUSTOMER_LINES if role == "customer" else AGENT_LINES)
                ts = start + timedelta(minutes=3 * j)
                out["messages"].append(
                    (msg_id, conv_id, f"m{j}", j, role, "text", text, ts, "{}", ts)
                )
        if rng.random() < 0.05:
            viol_id += 1
            at = now - timedelta(days=rng.uniform(0, DAYS))
            out["violations"].append((viol_id, "default", first_conv, 1 + c % 200, "wecom", rng.choice(
                ["redline.wechat", "redline.red-packet", "service.rude"]), 1, rng.choice(["medium", "high"]),
                "open", 0, False, "[]", at, at))  # fmt: skip
            out["evidence"].append((viol_id, "message", "m0", at))
        if rng.random() < 0.10:
            out["customer_tags"].append(
                ("default", c, "已成交", "rule", "[]", now - timedelta(days=10), now)
            )
        if rng.random() < 0.20:
            group = rng.choice(GROUPS)
            joined = now - timedelta(days=rng.uniform(0, DAYS))
            out["customer_events"].append(
                ("default", c, "group_join", group, json.dumps({"group": group}), joined)
            )
            if rng.random() < 0.25:
                left = joined + timedelta(days=rng.uniform(0, 10))
                out["customer_events"].append(
                    ("default", c, "group_leave", group, "{}", min(left, now))
                )
    return out


COLUMNS = {
    "customers": "id, tenant_id, external_id, name, owner_external_id, extra, violation_summary, created_at, updated_at",
    "conversations": "id, tenant_id, external_id, channel, employee_id, customer_id, started_at, status, closed, "
                     "stage_errors, extra, analysis_attempts, revision, created_at, updated_at",
    "messages": "id, conversation_id, external_id, seq, role, type, text, ts, extra, created_at",
    "violations": "id, tenant_id, conversation_id, employee_id, channel, rule_id, rule_version, severity, status, "
                  "deduct, fatal, actions, created_at, updated_at",
    "evidence": "violation_id, kind, message_external_id, created_at",
    "customer_tags": "tenant_id, customer_id, tag, source, evidence, first_seen_at, last_seen_at",
    "customer_events": "tenant_id, customer_id, type, group_name, data, ts",
}  # fmt: skip


def generate(engine: Engine, customers: int) -> int:
    """Write the store; returns the number of messages."""
    rows = _rows(customers)
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        cur.execute("INSERT INTO employees (id, tenant_id, external_id, team, extra, created_at, updated_at) VALUES "
                    + ", ".join(f"({i + 1}, 'default', 'e{i}', '组{i % 10}', '{{}}', '2026-01-01T00:00:00+00:00', "
                                "'2026-01-01T00:00:00+00:00')" for i in range(200)))  # fmt: skip
        for table, cols in COLUMNS.items():
            data = rows[table]
            if engine.dialect.name == "postgresql":
                with cur.copy(f"COPY {table} ({cols}) FROM STDIN") as copy:  # type: ignore[attr-defined]
                    for row in data:
                        copy.write_row(row)
            else:
                marks = ", ".join("?" * len(data[0])) if data else ""
                for i in range(0, len(data), 50_000):
                    cur.executemany(
                        f"INSERT INTO {table} ({cols}) VALUES ({marks})", data[i : i + 50_000]
                    )
        if engine.dialect.name == "postgresql":
            for table in COLUMNS:  # ids were given: move the sequences past them
                if table in ("customers", "conversations", "messages", "violations"):
                    cur.execute(
                        f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))"
                    )
            cur.execute("SELECT setval(pg_get_serial_sequence('employees', 'id'), 200)")
        raw.commit()
        if engine.dialect.name == "postgresql":
            driver = raw.driver_connection
            driver.autocommit = True  # type: ignore[union-attr]
            driver.execute("VACUUM ANALYZE")  # type: ignore[union-attr]
            driver.autocommit = False  # type: ignore[union-attr]  (back to the pool as it came)
        else:
            cur.execute("ANALYZE")
            raw.commit()
    finally:
        raw.close()
    return len(rows["messages"])


def child_run(url: str, as_of: str) -> None:
    """In the child: run every segment at ``as_of`` and print one JSON line of counts."""
    from qc_service.segments.service import run_segments

    store = open_store(Settings(database_url=url, sweep_interval_seconds=3600), migrate=False)
    started = time.perf_counter()
    results = run_segments(store.session_factory, "default", as_of=datetime.fromisoformat(as_of))
    print(json.dumps({"seconds": time.perf_counter() - started, "segments": len(results),
                      "failed": [r.segment_id for r in results if r.status != "done"],
                      "members": sum(r.members for r in results), "entered": sum(len(r.entered) for r in results),
                      "left": sum(len(r.left) for r in results)}))  # fmt: skip
    store.close()


def measure(url: str, label: str, customers: int, n_segments: int, budget_s: float) -> bool:
    t0 = time.perf_counter()
    store = open_store(Settings(database_url=url, sweep_interval_seconds=3600))
    n_messages = generate(store.engine, customers)
    with write_transaction(store.session_factory) as db:
        publish(db_session=db, tenant_id="default", source="api", source_name="bench", doc={"rules": [
            {"id": f"redline.{r}", "name": r, "when": {"keyword": {"words": ["加我微信"]}}}
            for r in ("wechat", "red-packet")], "segments": segments(n_segments)})  # fmt: skip
    store.close()
    gen_s = time.perf_counter() - t0
    ok = True
    for i, at in enumerate((AS_OF, AS_OF + timedelta(days=1))):
        before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        proc = subprocess.run([sys.executable, "-m", "bench.segments", "--run", url, "--as-of", at.isoformat()],
                              capture_output=True, text=True, check=False)  # fmt: skip
        peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        if proc.returncode != 0:
            print(f"segments [{label}]: run failed: {proc.stderr[-2000:]}")
            return False
        got = json.loads(proc.stdout.strip().splitlines()[-1])
        within = got["seconds"] <= budget_s and not got["failed"]
        ok &= within
        print(f"segments [{label}] {'first run' if i == 0 else 'next day '}: {customers:,} customers "
              f"({n_messages:,} messages) × {n_segments} segments: {got['seconds']:7.1f} s, peak RSS "
              f"{max(peak, before) / 1024:,.0f} MiB; members {got['members']:,}, entered {got['entered']:,}, "
              f"left {got['left']:,}; failed {got['failed'] or 'none'} — budget {budget_s / 60:.0f} min: "
              f"{'ok' if within else 'OVER'} (store generated in {gen_s:.0f} s)")  # fmt: skip
    return ok


def run(sqlite_customers: int = 100_000, pg_customers: int = 1_000_000, sqlite_segments: int = 10,
        pg_segments: int = 30, backends: tuple[str, ...] = ("sqlite", "postgresql")) -> bool:  # fmt: skip
    from bench.dashboard import _drop, _postgres_url

    ok = True
    with tempfile.TemporaryDirectory() as tmp:
        if "sqlite" in backends:
            ok &= measure(
                f"sqlite:///{Path(tmp) / 'seg.db'}",
                "sqlite",
                sqlite_customers,
                sqlite_segments,
                300,
            )
        if "postgresql" in backends:
            pg = _postgres_url()
            if pg is not None:
                url, name = pg
                try:
                    ok &= measure(url, "postgresql", pg_customers, pg_segments, 1800)
                finally:
                    _drop(name)
    return ok


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--run", help="(child) run the segments of this database URL")
    parser.add_argument("--as-of", default=AS_OF.isoformat())
    parser.add_argument("--customers", type=int, help="one size for both backends")
    parser.add_argument("--segments", type=int)
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], action="append")
    args = parser.parse_args()
    if args.run:
        child_run(args.run, args.as_of)
    else:
        sizes: dict[str, Any] = {}
        if args.customers:
            sizes.update(sqlite_customers=args.customers, pg_customers=args.customers)
        if args.segments:
            sizes.update(sqlite_segments=args.segments, pg_segments=args.segments)
        sys.exit(0 if run(**sizes, backends=tuple(args.backend or ("sqlite", "postgresql"))) else 1)
