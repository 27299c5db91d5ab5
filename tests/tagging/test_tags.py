"""Customer tags: exclusive groups replace each other, a tag removed by hand stays removed (and a
locked one stays on) until an admin clears the override, group join/leave events, and tag lines
with add/remove in ``qc analyze``."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from crm_bridge.outbox.models import OutboxEvent
from qc_service.pipeline.files import ingest_one
from qc_service.store import Store

RULES = """
rules:
  - {id: tag.grade-primary, name: 小学, kind: tag, tag: 小学, exclusive_group: 年级,
     when: {keyword: {words: [三年级, 四年级, 五年级], role: customer}}}
  - {id: tag.grade-junior, name: 初中, kind: tag, tag: 初中, exclusive_group: 年级,
     when: {keyword: {words: [初一, 初二, 初三], role: customer}}}
  - {id: tag.parent-group, name: 家长群, kind: tag, tag: 家长群成员, group: {match: "家长群*", on_join: tag, on_leave: untag}}
"""


@pytest.fixture(autouse=True)
def tag_rules(client: TestClient) -> None:
    """The shared ``store``/``client`` fixtures, with this module's tag rules published."""
    r = client.post("/v1/rules", content=RULES, headers={"content-type": "application/yaml"})
    assert r.status_code == 200


def _chat(rid: str, text: str) -> dict[str, object]:
    return {"id": rid, "channel": "wecom", "employee": {"id": "e1"}, "customer": {"id": "u1"},
            "messages": [{"id": "m1", "role": "agent", "text": "孩子几年级了？"}, {"id": "m2", "role": "customer", "text": text}]}  # fmt: skip


def _tags(client: TestClient) -> list[str]:
    return [t["tag"] for t in client.get("/v1/customers/u1/tags").json()]


def test_exclusive_group_replaces_the_older_tag(client: TestClient, store: Store) -> None:
    ingest_one(store, _chat("c1", "今年四年级"), final=True)
    assert _tags(client) == ["小学"]
    ingest_one(store, _chat("c2", "现在上初一了"), final=True)
    assert _tags(client) == ["初中"]
    with store.session_factory() as s:
        events = [
            (e.event_type, e.payload["data"]["tag"])
            for e in s.scalars(select(OutboxEvent).order_by(OutboxEvent.id))
        ]
    assert events == [("tag.added", "小学"), ("tag.added", "初中"), ("tag.removed", "小学")]


def test_tag_removed_by_hand_stays_removed_until_an_admin_clears_the_override(
    client: TestClient, store: Store
) -> None:
    ingest_one(store, _chat("c1", "今年四年级"), final=True)
    tag = client.get("/v1/customers/u1/tags").json()[0]
    assert (tag["source"], tag["rule_id"], tag["evidence"][0]["text"]) == (
        "rule",
        "tag.grade-primary",
        "四年级",
    )
    assert client.delete("/v1/customers/u1/tags/小学").status_code == 204
    assert _tags(client) == []
    client.post(
        "/v1/rules",
        content=RULES.replace("五年级]", "五年级, 4年级]"),
        headers={"content-type": "application/yaml"},
    )
    from qc_service.db.session import write_transaction
    from qc_service.pipeline.service import analyze_conversation
    from qc_service.rulesets.history import mark_for_reanalysis

    with write_transaction(store.session_factory) as s:
        ids = mark_for_reanalysis(db_session=s, tenant_id="default", since=None)
    for pk in ids:
        analyze_conversation(session_factory=store.session_factory, conversation_pk=pk)
    assert _tags(client) == []  # re-analysis saw the same evidence: stays removed
    ingest_one(store, _chat("c3", "孩子四年级了"), final=True)
    assert _tags(client) == []  # nor new evidence: a person's removal is an override (ACCESS.md)
    assert (
        client.delete("/v1/customers/u1/tags/小学/override").status_code == 204
    )  # an admin clears it
    ingest_one(store, _chat("c4", "孩子读四年级"), final=True)
    assert _tags(client) == ["小学"]  # automatic sources act again
    assert client.delete("/v1/customers/u1/tags/不存在").json()["error"]["code"] == "NOT_FOUND"


def test_group_join_and_leave(client: TestClient) -> None:
    event = {
        "type": "group_join",
        "customer": {"id": "u1", "name": "王妈妈"},
        "group": "家长群3",
        "ts": "2026-11-20T10:00:00+08:00",
    }
    assert client.post("/v1/events", json={"events": [event]}).json()["results"][0]["added"] == [
        "家长群成员"
    ]
    assert _tags(client) == ["家长群成员"]
    other = {**event, "group": "课程咨询群"}
    assert client.post("/v1/events", json={"events": [other]}).json()["results"][0]["added"] == []
    leave = {**event, "type": "group_leave"}
    assert client.post("/v1/events", json={"events": [leave]}).json()["results"][0]["removed"] == [
        "家长群成员"
    ]
    assert _tags(client) == []
    bad = client.post(
        "/v1/events",
        json={"events": [{"type": "group_wave", "customer": {"id": "u1"}, "group": "x"}]},
    )
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "REQUEST_INVALID"


def test_analyze_prints_tag_add_and_remove_lines(tmp_path: Path) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text(RULES, encoding="utf-8")
    records = tmp_path / "r.jsonl"
    records.write_text(
        "\n".join(
            json.dumps(_chat(r, t), ensure_ascii=False)
            for r, t in [("c1", "四年级"), ("c2", "初二")]
        ),
        encoding="utf-8",
    )
    out = subprocess.run([sys.executable, "-m", "qc_service.cli.main", "analyze", str(records), "--rules", str(rules),
                          "--format", "jsonl"], capture_output=True, text=True, timeout=60)  # fmt: skip
    tags = [
        (x["conversation_id"], x["action"], x["tag"])
        for x in map(json.loads, out.stdout.splitlines())
        if x["type"] == "tag"
    ]
    assert tags == [("c1", "add", "小学"), ("c2", "remove", "小学"), ("c2", "add", "初中")]


def test_a_locked_tag_stays_through_an_exclusive_group_and_both_acts_are_audited(
    client: TestClient, store: Store
) -> None:
    ingest_one(store, _chat("c1", "今年四年级"), final=True)
    assert (
        client.post("/v1/customers/u1/tags/小学/lock", json={"reason": "家长电话确认"}).status_code
        == 204
    )
    assert client.post("/v1/customers/u1/tags/小学/confirm", json={}).status_code == 204
    ingest_one(store, _chat("c2", "明年上初一"), final=True)  # 初中 would replace 小学 in the group
    assert sorted(_tags(client)) == ["初中", "小学"]
    locked = next(t for t in client.get("/v1/customers/u1/tags").json() if t["tag"] == "小学")
    assert (locked["override"], locked["override_reason"], locked["confirmed_by"]) == (
        "locked",
        "家长电话确认",
        "test-admin",
    )
    acts = [
        (e["action"], e["reason"])
        for e in client.get("/v1/audit", params={"object_id": "u1"}).json()["items"]
    ]
    assert ("tag.locked", "家长电话确认") in acts and ("tag.confirmed", None) in acts
    assert client.post("/v1/customers/u1/tags/没有/lock", json={}).status_code == 404
