"""Every leaf of RULES.md's Segments section, and its traps, at a frozen ``as_of``, on both
backends: windows end at ``as_of`` and start exclusive, negative leaves wait for the window."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import yaml

from qc_service.rules.loader import load_rules_data
from qc_service.segments.facts import StoreFacts
from qc_service.segments.leaves import Evaluator
from qc_service.store import Store
from tests.segments.world import AS_OF, World, ago


def members(store: Store, when: str, *, rules: list[dict[str, Any]] | None = None,
            as_of: Any = AS_OF) -> set[str]:  # fmt: skip
    """External ids of the customers for whom ``when`` (YAML) holds at ``as_of``."""
    doc = {"rules": rules or [{"id": "redline.wechat", "name": "w", "when": {"keyword": {"words": ["微信"]}}},
                              {"id": "redline.money", "name": "m", "when": {"keyword": {"words": ["红包"]}}}],
           "segments": [{"id": "seg.t", "name": "t", "when": yaml.safe_load(when)}]}  # fmt: skip
    seg = load_rules_data(doc).segments[0]
    with store.session_factory() as db:
        ev = Evaluator(StoreFacts(db, "default", as_of), as_of)
        assert seg.index is not None
        ev.prepare_said(seg.leaves(), seg.index)
        found = ev.members(seg.when)
        from qc_service.customers.models import Customer

        return {c.external_id for c in db.query(Customer).filter(Customer.id.in_(found))}


def build(store: Store, fill: Any) -> None:
    with store.session_factory() as db:
        fill(World(db))
        db.commit()


def test_said_counts_distinct_messages_across_conversations_in_the_window(store: Store) -> None:
    def fill(w: World) -> None:
        w.chat("two-convs", ("customer", "这个多少钱", ago(days=2)))
        w.chat("two-convs", ("customer", "报价发我一下", ago(days=1)))
        w.chat("one-msg-twice", ("customer", "多少钱？报价呢", ago(days=1)))
        w.chat("edge", ("customer", "多少钱", ago(days=7)), ("customer", "报价", ago(days=1)))
        w.chat("agent-said", ("agent", "多少钱", ago(days=1)), ("agent", "报价", ago(days=1)))
        w.chat("future", ("customer", "多少钱", ago(days=1)), ("customer", "报价", ago(hours=-1)))

    build(store, fill)
    found = members(store, "{said: {cond: {keyword: {words: [多少钱, 报价]}}, window: 7d, min: 2}}")
    # a message saying both words counts once; exactly as_of − 7 d is out; agent lines and
    # messages after as_of do not count
    assert found == {"two-convs"}
    assert members(store, "{said: {cond: {keyword: {words: [多少钱]}}, role: agent}}") == {
        "agent-said"
    }


def test_hit_counts_standing_violations_at_their_first_evidence_message(store: Store) -> None:
    def fill(w: World) -> None:
        c = w.chat("standing", ("agent", "加微信", ago(days=3)))
        w.violation(c, "redline.wechat")
        c = w.chat("overturned", ("agent", "加微信", ago(days=3)))
        w.violation(c, "redline.wechat", status="overturned")
        c = w.chat("old", ("agent", "加微信", ago(days=30)), ("agent", "你好", ago(days=1)))
        w.violation(c, "redline.wechat")  # its evidence message is exactly 30 days old: out
        c = w.chat("low", ("agent", "红包", ago(days=1)))
        w.violation(c, "redline.money", severity="low")

    build(store, fill)
    assert members(store, "{hit: {rule: 'redline.*', window: 30d}}") == {"standing", "low"}
    assert members(store, "{hit: {rule: redline.wechat, window: 30d}}") == {"standing"}
    assert members(store, "{hit: {rule: 'redline.*', severity_at_least: high}}") == {
        "standing",
        "old",
    }


def test_silent_first_seen_and_last(store: Store) -> None:
    def fill(w: World) -> None:
        w.chat("unanswered", ("agent", "您好", ago(days=40)), ("customer", "在吗", ago(hours=49)))
        w.chat("answered", ("customer", "在吗", ago(hours=60)), ("agent", "在的", ago(hours=59)))
        w.chat("fresh", ("customer", "在吗", ago(hours=47)))
        w.chat("quiet-31", ("customer", "好的", ago(days=31)))
        w.chat("new-3d", ("customer", "你好", ago(days=3)))
        w.customer("never-wrote")

    build(store, fill)
    assert members(store, "{silent: {side: agent, over_hours: 48}}") == {
        "unanswered",
        "quiet-31",
        "new-3d",
    }
    # "silent for 30 days": the customer first seen 3 days ago is not in it, nor one never seen
    assert members(store, "{not: {said: {cond: {regex: {pattern: '.'}}, window: 30d}}}") == {
        "quiet-31"
    }
    assert members(store, "{last: {role: customer, before_days: 30}}") == {"quiet-31"}
    assert members(store, "{last: {role: customer, within_days: 3}}") == {
        "unanswered",
        "fresh",
        "answered",
    }


def test_tag_attr_in_group_event_in_segment(store: Store) -> None:
    def fill(w: World) -> None:
        w.chat("a", ("customer", "hi", ago(days=5)))
        w.tag("a", "已成交")
        w.tag("a", "小学", source="manual")
        w.customer("b", name="王先生", extra={"values": {"age": 8}})
        w.tag("b", "待回访", removed=AS_OF + timedelta(hours=1))  # held at as_of, removed later
        w.customer("c", extra={"values": {"age": 13}})
        w.tag("c", "待回访", removed=ago(hours=1))  # taken off before as_of
        w.tag("c", "明天的", at=AS_OF + timedelta(hours=1))  # put on after as_of
        w.event("a", "group_join", "家长群3", ago(days=10))
        w.event("b", "group_join", "家长群1", ago(days=10))
        w.event("b", "group_leave", "家长群1", ago(days=2))
        w.event("c", "group_join", "家长群2", ago(days=1))
        w.event("c", "group_join", "VIP群", ago(days=1))

    build(store, fill)
    assert members(store, "{tag: {any_of: [已成交]}}") == {"a"}
    assert members(store, "{tag: {any_of: [小学], source: auto}}") == set()
    assert members(store, "{tag: {all_of: [已成交, 小学], source: any}}") == {"a"}
    assert members(store, "{tag: {none_of: [已成交]}}") == {"b", "c"}
    assert members(store, "{tag: {any_of: [待回访, 明天的]}}") == {"b"}  # the tags held at as_of
    assert members(store, "{tag: {any_of: [小学], none_of: [已成交]}}") == set()  # every list holds
    assert members(store, "{attr: {field: age, op: between, value: [6, 12]}}") == {"b"}
    assert members(store, "{attr: {field: age, op: missing}}") == {"a"}
    assert members(store, "{attr: {field: name, op: eq, value: 王先生}}") == {"b"}
    assert members(store, "{in_group: {match: '家长群*'}}") == {"a", "c"}
    assert members(store, "{in_group: {match: '家长群*', since_days: 7}}") == {"a"}
    assert members(store, "{event: {type: group_join, window: 30d, min: 2}}") == {"c"}
    assert members(store, "{event: {type: group_join, where: {group: 'VIP*'}}}") == {"c"}
