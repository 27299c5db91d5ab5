"""Q&A tagging (RULES.md ``qa``): the agent asks, the customer's next turn is parsed, the value is
mapped to a tag; exclusive groups replace older tags through the store and ``qc analyze``."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from helpers import conv, rules

from qc_service.pipeline.files import ingest_one
from qc_service.rules.analysis import analyze
from qc_service.rules.errors import RuleValidationError
from qc_service.rules.loader import load_rules_data
from qc_service.rules.model import Conversation, Message
from qc_service.store import Store

ASK_AGE = {"keyword": {"words": ["几岁", "多大"], "role": "agent"}}
GRADE = {
    "kind": "tag",
    "exclusive_group": "年级",
    "qa": {
        "question": ASK_AGE,
        "answer": {"extract": "age"},
        "map": [
            {"range": [6, 12], "tag": "小学"},
            {"range": [13, 15], "tag": "初中"},
            {"range": [16, 18], "tag": "高中"},
        ],
    },
}


def tags_of(rule: dict[str, Any], *messages: tuple[str, str]) -> list[str]:
    ruleset = rules(rule)
    analysis = analyze(ruleset, conv(*messages))
    assert not analysis.errors, analysis.errors
    assert all(t.source == "qa" for t in analysis.tags)
    return [t.tag for t in analysis.tags]


@pytest.mark.parametrize(
    ("reply", "tag"),
    [("8岁", "小学"), ("八岁半", "小学"), ("十四岁", "初中"), ("16", "高中"), ("刚满五岁", None)],
)
def test_age_answer_maps_to_a_tag(reply: str, tag: str | None) -> None:
    got = tags_of(GRADE, ("agent", "您好，孩子今年几岁了？"), ("customer", reply))
    assert got == ([tag] if tag else [])


def test_evidence_has_the_question_and_the_value_span() -> None:
    analysis = analyze(
        rules(GRADE),
        conv(("agent", "孩子几岁了"), ("customer", "我家孩子8岁了，老大12岁")),
    )
    (finding,) = analysis.tags
    question, reply = finding.evidence
    assert (question.kind, question.message_id, question.text) == ("span", "m1", "几岁")
    assert (reply.kind, reply.message_id, reply.role) == ("message", "m2", "customer")
    assert (reply.start, reply.end, reply.text, reply.value, reply.unit) == (
        4,
        6,
        "8岁",
        8,
        "years",
    )


def test_reply_without_a_value_gives_no_tag() -> None:
    assert tags_of(GRADE, ("agent", "孩子几岁了"), ("customer", "上初一了")) == []
    assert tags_of(GRADE, ("agent", "孩子几岁了"), ("customer", "你猜")) == []


def test_first_customer_message_with_a_value_counts() -> None:
    got = tags_of(
        GRADE,
        ("agent", "孩子几岁了"),
        ("customer", "嗯"),
        ("customer", "十四岁"),
        ("agent", "好的"),
    )
    assert got == ["初中"]


def test_reply_beyond_two_turns_gives_no_tag() -> None:
    got = tags_of(
        GRADE,
        ("agent", "孩子几岁了"),
        ("customer", "稍等"),
        ("agent", "好的，您先忙"),
        ("customer", "8岁"),
    )
    assert got == []


def test_question_must_be_asked_by_the_agent() -> None:
    assert tags_of(GRADE, ("customer", "你们几岁可以学"), ("agent", "8岁")) == []


def test_last_answered_question_wins() -> None:
    got = tags_of(
        GRADE,
        ("agent", "孩子几岁了"),
        ("customer", "8岁"),
        ("agent", "老二多大了？"),
        ("customer", "十四岁"),
        ("agent", "那老三呢，几岁"),
        ("customer", "还没定"),  # no value: answers nothing, 初中 stands
    )
    assert got == ["初中"]


def test_value_outside_every_range_gives_no_tag() -> None:
    assert tags_of(GRADE, ("agent", "孩子几岁了"), ("customer", "3岁")) == []


def test_yes_no_mapping() -> None:
    rule = {
        "kind": "tag",
        "qa": {
            "question": {"keyword": {"words": ["感兴趣吗", "试听"]}},
            "answer": {"extract": "yes_no"},
            "map": [{"equals": "yes", "tag": "有意向"}, {"equals": "no", "tag": "无意向"}],
        },
    }
    ask = ("agent", "下周有一节免费试听课，感兴趣吗？")
    assert tags_of(rule, ask, ("customer", "好的")) == ["有意向"]
    assert tags_of(rule, ask, ("customer", "不太需要")) == ["无意向"]
    assert tags_of(rule, ask, ("customer", "好的，不过暂时不需要")) == ["无意向"]
    assert tags_of(rule, ask, ("customer", "哦")) == []
    # YAML's bare yes/no arrive as booleans
    yaml_rule = {**rule, "qa": {**rule["qa"], "map": [{"equals": True, "tag": "有意向"}]}}
    assert tags_of(yaml_rule, ask, ("customer", "可以")) == ["有意向"]


def test_money_mapping() -> None:
    rule = {
        "kind": "tag",
        "qa": {
            "question": {"keyword": {"words": ["预算"]}},
            "answer": {"extract": "money"},
            "map": [
                {"range": [0, 4999], "tag": "低预算"},
                {"range": [5000, 19999], "tag": "中预算"},
                {"range": [20000, 1000000], "tag": "高预算"},
            ],
        },
    }
    ask = ("agent", "您这边预算大概多少？")
    assert tags_of(rule, ask, ("customer", "两万左右")) == ["高预算"]
    assert tags_of(rule, ask, ("customer", "一万五")) == ["中预算"]
    assert tags_of(rule, ask, ("customer", "3k吧")) == ["低预算"]
    assert tags_of(rule, ask, ("customer", "孩子8岁，两千多")) == ["低预算"]


def test_city_mapping_and_when_as_precondition() -> None:
    rule = {
        "kind": "tag",
        "when": {"keyword": {"words": ["线下"], "role": "customer"}},
        "qa": {
            "question": {"keyword": {"words": ["哪个城市"]}},
            "answer": {"extract": "city"},
            "map": [{"equals": "杭州市", "tag": "杭州校区"}, {"equals": "上海", "tag": "上海校区"}],
        },
    }
    ask = ("agent", "您在哪个城市？")
    assert tags_of(rule, ("customer", "想上线下课"), ask, ("customer", "杭州")) == ["杭州校区"]
    assert tags_of(rule, ask, ("customer", "杭州")) == []  # when does not hold


def test_date_answer_counts_from_the_reply_ts() -> None:
    rule = {
        "kind": "tag",
        "qa": {
            "question": {"keyword": {"words": ["什么时候方便"]}},
            "answer": {"extract": "date"},
            "map": [{"equals": "2026-11-19", "tag": "约了19号"}],
        },
    }
    ts = datetime(2026, 11, 18, 10, 0)
    c = Conversation(
        "c1",
        "wechat",
        [
            Message("m1", "agent", "您什么时候方便来试听？", ts=ts),
            Message("m2", "customer", "明天", ts=ts),
        ],
        customer_id="u1",
    )
    assert [t.tag for t in analyze(rules(rule), c).tags] == ["约了19号"]


@pytest.mark.parametrize(
    ("qa", "path", "message"),
    [
        ({"answer": {"extract": "age"}, "map": [{"range": [1, 2], "tag": "x"}]}, "qa.question", "required"),
        ({"question": {"silence": {"min_seconds": 60}}, "answer": {"extract": "age"}, "map": [{"range": [1, 2], "tag": "x"}]}, "qa.question", ""),
        ({"question": ASK_AGE, "answer": {"extract": "colour"}, "map": [{"range": [1, 2], "tag": "x"}]}, "qa.answer.extract", "one of"),
        ({"question": ASK_AGE, "answer": {"extract": "age"}, "map": [{"range": [5, 2], "tag": "x"}]}, "qa.map[0].range", "low"),
        ({"question": ASK_AGE, "answer": {"extract": "age"}, "map": [{"between": [1, 2], "tag": "x"}]}, "qa.map[0]", "map item"),
        ({"question": ASK_AGE, "answer": {"extract": "yes_no"}, "map": [{"equals": "maybe", "tag": "x"}]}, "qa.map[0].equals", "yes"),
        ({"question": ASK_AGE, "answer": {"extract": "city"}, "map": [{"range": [1, 2], "tag": "x"}]}, "qa.map[0].range", "equals"),
        ({"question": ASK_AGE, "answer": {"extract": "age"}, "map": []}, "qa.map", "non-empty"),
    ],
)  # fmt: skip
def test_qa_validation_names_the_key_path(qa: dict[str, Any], path: str, message: str) -> None:
    doc = {"version": 1, "rules": [{"id": "r0", "name": "qa", "kind": "tag", "qa": qa}]}
    with pytest.raises(RuleValidationError) as info:
        load_rules_data(doc)
    found = [(e.path, e.message) for e in info.value.errors]
    assert any(p.startswith(f"rules[0].{path}") and message in m for p, m in found), found


# -- through the store and the CLI -----------------------------------------------------------
RULES = """
rules:
  - id: tag.grade-by-age
    name: 年级（按年龄）
    kind: tag
    exclusive_group: 年级
    qa:
      question: {keyword: {words: [几岁, 多大], role: agent}}
      answer: {extract: age}
      map:
        - {range: [6, 12], tag: 小学}
        - {range: [13, 15], tag: 初中}
"""


def _chat(rid: str, reply: str) -> dict[str, object]:
    return {"id": rid, "channel": "wecom", "employee": {"id": "e1"}, "customer": {"id": "u1"},
            "messages": [{"id": "m1", "role": "agent", "text": "孩子今年几岁了？"},
                         {"id": "m2", "role": "customer", "text": reply}]}  # fmt: skip


def test_exclusive_group_replacement_through_the_store(client: TestClient, store: Store) -> None:
    posted = client.post("/v1/rules", content=RULES, headers={"content-type": "application/yaml"})
    assert posted.status_code == 200, posted.text
    ingest_one(store, _chat("c1", "八岁半"), final=True)
    tags = client.get("/v1/customers/u1/tags").json()
    assert [(t["tag"], t["source"], t["rule_id"]) for t in tags] == [
        ("小学", "qa", "tag.grade-by-age")
    ]
    ingest_one(store, _chat("c2", "十四岁了"), final=True)
    assert [t["tag"] for t in client.get("/v1/customers/u1/tags").json()] == ["初中"]


def test_analyze_prints_the_qa_tag_lines(tmp_path: Path) -> None:
    rules_file = tmp_path / "rules.yaml"
    rules_file.write_text(RULES, encoding="utf-8")
    records = tmp_path / "r.jsonl"
    records.write_text(
        "\n".join(
            json.dumps(_chat(r, t), ensure_ascii=False)
            for r, t in [("c1", "8岁"), ("c2", "十四岁"), ("c3", "不告诉你")]
        ),
        encoding="utf-8",
    )
    out = subprocess.run([sys.executable, "-m", "qc_service.cli.main", "analyze", str(records),
                          "--rules", str(rules_file), "--format", "jsonl"],
                         capture_output=True, text=True, timeout=60)  # fmt: skip
    lines = [json.loads(x) for x in out.stdout.splitlines()]
    tags = [
        (x["conversation_id"], x["action"], x["tag"], x["source"])
        for x in lines
        if x["type"] == "tag"
    ]
    assert tags == [
        ("c1", "add", "小学", "qa"),
        ("c2", "remove", "小学", "qa"),
        ("c2", "add", "初中", "qa"),
    ]
    assert not [x for x in lines if x["type"] == "error"]
    reply = next(x for x in lines if x["type"] == "tag" and x["action"] == "add")["evidence"][-1]
    assert (reply["text"], reply["value"], reply["unit"]) == ("8岁", 8, "years")
