"""Aggregate tag rules (聊天关键词自动打标签): a tag only when enough distinct messages of one
customer matched within the window ending at the latest match, across conversations."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from qc_service.db.session import write_transaction
from qc_service.pipeline.files import ingest_one
from qc_service.rules.aggregate import reached
from qc_service.rules.loader import parse_rules_text
from qc_service.rulesets.service import publish
from qc_service.store import Store
from qc_service.tagging.models import CustomerTag

RULES = """
rules:
  - id: tag.intent
    name: 高意向
    kind: tag
    tag: 高意向
    aggregate: {window_days: 30, min_hits: 3}
    when: {keyword: {words: [报名, 下单, 怎么付款], role: customer}}
"""
DAY0 = datetime(2026, 10, 1, 10, 0, tzinfo=UTC)


@pytest.fixture
def rules_store(store: Store) -> Store:
    """The shared ``store`` fixture, with this module's aggregate rule published."""
    with write_transaction(store.session_factory) as db:
        publish(
            db_session=db,
            tenant_id="default",
            doc=parse_rules_text(RULES, "r.yaml"),
            source="file",
            source_name="r.yaml",
        )
    return store


def _chat(rid: str, day: int, *texts: str) -> dict[str, object]:
    ts = DAY0 + timedelta(days=day)
    return {"id": rid, "channel": "wecom", "employee": {"id": "e1"}, "customer": {"id": "u1"},
            "messages": [{"id": f"m{i}", "role": "customer", "text": t, "ts": (ts + timedelta(minutes=i)).isoformat()}
                         for i, t in enumerate(texts)]}  # fmt: skip


def _tags(store: Store) -> dict[str, CustomerTag]:
    with store.session_factory() as s:
        return {
            t.tag: t for t in s.scalars(select(CustomerTag).where(CustomerTag.removed_at.is_(None)))
        }


def test_tag_once_three_distinct_messages_within_the_window(rules_store: Store) -> None:
    store = rules_store
    ingest_one(store, _chat("c1", 0, "想给孩子报名"), final=True)
    ingest_one(store, _chat("c2", 5, "您好", "报名"), final=True)
    assert "高意向" not in _tags(store)  # two matching messages so far
    ingest_one(
        store, _chat("c2", 5, "您好", "报名"), final=True
    )  # re-sent: the same message, no new hit
    assert "高意向" not in _tags(store)
    ingest_one(
        store, _chat("c3", 9, "怎么付款", "下单吧"), final=True
    )  # two messages of one conversation count twice
    tag = _tags(store)["高意向"]
    assert tag.source == "aggregate"
    keys = [(e["conversation_id"], e["message_id"]) for e in tag.evidence]
    assert keys == [("c1", "m0"), ("c2", "m1"), ("c3", "m0"), ("c3", "m1")]


def test_matches_spread_beyond_the_window_do_not_tag(rules_store: Store) -> None:
    store = rules_store
    ingest_one(store, _chat("c1", 0, "想报名"), final=True)
    ingest_one(store, _chat("c2", 40, "怎么付款"), final=True)
    ingest_one(store, _chat("c3", 80, "下单了"), final=True)
    assert "高意向" not in _tags(store)


def test_reached_counts_distinct_keys_in_the_window_ending_at_the_latest() -> None:
    hits = [
        ("a", DAY0),
        ("b", DAY0 + timedelta(days=29)),
        ("b", DAY0 + timedelta(days=29)),
        ("c", DAY0 + timedelta(days=30)),
    ]
    assert reached(hits, 30, 3) == ["a", "b", "c"]
    assert reached(hits, 29, 3) is None
    assert reached([], 30, 1) is None


def test_qc_analyze_takes_aggregate_history_from_the_file(tmp_path: Path) -> None:
    rules = tmp_path / "r.yaml"
    rules.write_text(RULES, encoding="utf-8")
    f = tmp_path / "r.jsonl"
    chats = [
        _chat("c1", 0, "报名"),
        _chat("c2", 3, "下单"),
        _chat("c3", 6, "怎么付款"),
        _chat("c4", 7, "报名"),
    ]
    f.write_text("\n".join(json.dumps(c, ensure_ascii=False) for c in chats), encoding="utf-8")
    out = subprocess.run([sys.executable, "-m", "qc_service.cli.main", "analyze", str(f), "--rules", str(rules), "--format", "jsonl"],
                         capture_output=True, text=True, timeout=60)  # fmt: skip
    tags = [x for x in map(json.loads, out.stdout.splitlines()) if x["type"] == "tag"]
    assert [(t["conversation_id"], t["action"], t["tag"], t["source"]) for t in tags] == [
        ("c3", "add", "高意向", "aggregate")
    ]
    assert [e["conversation_id"] for e in tags[0]["evidence"]] == ["c1", "c2", "c3"]


def test_aggregate_needs_timestamps(tmp_path: Path) -> None:
    rules = tmp_path / "r.yaml"
    rules.write_text(RULES, encoding="utf-8")
    rec = _chat("c1", 0, "报名")
    del rec["messages"][0]["ts"]  # type: ignore[index]
    f = tmp_path / "r.jsonl"
    f.write_text(json.dumps(rec, ensure_ascii=False), encoding="utf-8")
    out = subprocess.run([sys.executable, "-m", "qc_service.cli.main", "analyze", str(f), "--rules", str(rules), "--format", "jsonl"],
                         capture_output=True, text=True, timeout=60)  # fmt: skip
    errors = [x for x in map(json.loads, out.stdout.splitlines()) if x["type"] == "error"]
    assert (
        out.returncode == 1
        and errors[0]["stage"] == "tagging"
        and "needs message ts" in errors[0]["message"]
    )
