"""Rule authoring over the API and backtests before publishing: versions, enable/disable,
schedule, export, try-on-one-record; a draft that removes a false-positive pattern via ``allow``
shows fewer hits, lists the lost ones, and its estimated precision rises."""

from __future__ import annotations

from datetime import timedelta

import yaml
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from qc_service.db.base import utcnow
from qc_service.pipeline.files import ingest_one
from qc_service.review.models import Violation
from qc_service.store import Store

LIVE = "rules:\n  - {id: promo.cashback, name: 返现利诱, deduct: 30, when: {keyword: {words: [返现], role: agent}}}\n"
DRAFT = ("rules:\n  - {id: promo.cashback, name: 返现利诱, deduct: 30,\n"
         "     when: {keyword: {words: [返现], allow: [不能好评返现], role: agent}}}\n")  # fmt: skip
YAML = {"content-type": "application/yaml"}


def _record(i: int, text: str) -> dict[str, object]:
    return {"id": f"h{i}", "channel": "wecom", "employee": {"id": f"e{i % 3}"}, "customer": {"id": f"u{i}"},
            "messages": [{"id": "m1", "role": "customer", "text": "有优惠吗"}, {"id": "m2", "role": "agent", "text": text}]}  # fmt: skip


def _seed_history(client: TestClient, store: Store) -> None:
    assert client.post("/v1/rules", content=LIVE, headers=YAML).json() == [
        {"rule_id": "promo.cashback", "version": 1, "created": True}
    ]
    for i in range(6):
        ingest_one(store, _record(i, f"今天下单返现{50 + i}元"), final=True)
    for i in range(6, 10):
        ingest_one(store, _record(i, "平台规定不能好评返现哈，谢谢理解"), final=True)
    with store.session_factory() as s:
        ids = {
            v.conversation.external_id: v.id
            for v in s.scalars(select(Violation).where(Violation.rule_id == "promo.cashback"))
        }
    assert len(ids) == 10
    for cid in ("h0", "h1", "h2"):  # reviewers upheld three real lures
        assert (
            client.post(
                f"/v1/violations/{ids[cid]}/decision", json={"decision": "uphold"}
            ).status_code
            == 200
        )
    for cid in ("h6", "h7", "h8"):  # and overturned three disclaimers
        assert (
            client.post(
                f"/v1/violations/{ids[cid]}/decision",
                json={"decision": "overturn", "reason_code": "machine_error"},
            ).status_code
            == 200
        )


def test_backtest_of_an_allow_fix_loses_the_false_positives_and_precision_rises(
    client: TestClient, store: Store
) -> None:
    _seed_history(client, store)
    before = client.get("/v1/violations", params={"rule": "promo.cashback"}).json()["total"]
    r = client.post("/v1/rules/backtest", json={"rules": DRAFT, "since": "30d"})
    assert r.status_code == 200, r.json()
    report = r.json()
    (rule,) = report["rules"]
    assert (report["conversations"], report["complete"]) == (10, True)
    assert (rule["rule_id"], rule["hits"], rule["live_hits"]) == ("promo.cashback", 6, 10)
    assert rule["lost_hits"] == ["h6", "h7", "h8", "h9"] and rule["new_hits"] == []
    assert (rule["conversations"], rule["agents"]) == (6, 3)
    assert rule["live_precision"]["estimate"] == 0.5 and rule["live_precision"]["judged"] == 6
    assert rule["precision"]["estimate"] == 1.0 and rule["precision"]["judged"] == 3
    assert rule["precision"]["low"] > rule["live_precision"]["low"]  # Wilson lower bound rises too
    assert 0 < len(rule["sample"]) <= 5 and rule["sample"][0]["evidence"][0]["text"] == "返现"
    assert (
        client.get("/v1/violations", params={"rule": "promo.cashback"}).json()["total"] == before
    )  # wrote nothing


def test_versions_enable_disable_schedule_and_export(client: TestClient, store: Store) -> None:
    client.post("/v1/rules", content=LIVE, headers=YAML)
    assert (
        client.post("/v1/rules", content=LIVE, headers=YAML).json()[0]["created"] is False
    )  # identical: no version
    assert client.post("/v1/rules", content=DRAFT, headers=YAML).json()[0]["version"] == 2
    versions = client.get("/v1/rules/promo.cashback/versions").json()
    assert [v["version"] for v in versions] == [1, 2] and versions[0]["definition"]["when"][
        "keyword"
    ]["words"] == ["返现"]
    later = (utcnow() + timedelta(hours=1)).isoformat()
    r = client.post("/v1/rules/promo.cashback/schedule", json={"version": 1, "at": later}).json()
    assert (r["current_version"], r["scheduled_version"]) == (2, 1)
    with store.session_factory() as s, s.begin():
        from qc_service.rulesets.models import Rule

        s.execute(
            update(Rule)
            .where(Rule.rule_id == "promo.cashback")
            .values(scheduled_at=utcnow() - timedelta(seconds=1))
        )
    from qc_service.jobs.scheduler import Scheduler

    Scheduler(store, lambda _pk: None, holder=client.app.state.scheduler.holder).tick()  # type: ignore[attr-defined]
    cashback = next(r for r in client.get("/v1/rules").json() if r["rule_id"] == "promo.cashback")
    assert (cashback["current_version"], cashback["scheduled_version"]) == (1, None)
    assert client.post("/v1/rules/promo.cashback/disable").json()["enabled"] is False
    ingest_one(store, _record(1, "下单返现50"), final=True)
    assert client.get("/v1/violations", params={"rule": "promo.cashback"}).json()["total"] == 0
    exported = yaml.safe_load(client.get("/v1/rules/export").text)
    ids = {r["id"] for r in exported["rules"]}
    assert {"promo.cashback", "redline.red-packet"} <= ids
    assert (
        "cashback" in exported["lexicons"]
    )  # the pack's lexicons are inlined: the export needs no files
    from qc_service.rules.loader import load_rules_data

    assert len(load_rules_data(exported).rules) == len(exported["rules"])


def test_try_rules_on_one_record_and_errors(client: TestClient) -> None:
    r = client.post(
        "/v1/rules/test",
        json={"rules": DRAFT, "record": _record(1, "平台规定不能好评返现，下单返现的话找我")},
    ).json()
    (violation,) = [f for f in r["findings"] if f["type"] == "violation"]
    assert [e["text"] for e in violation["evidence"]] == ["返现"]
    assert violation["evidence"][0]["start"] == 13
    bad = client.post(
        "/v1/rules",
        content="rules:\n  - {id: x, name: x, when: {regex: {pattern: '(?<=a)b'}}}\n",
        headers=YAML,
    )
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "RULE_INVALID"
    assert (
        bad.json()["error"]["field"] == "rules[0].when.regex.pattern"
        and bad.json()["error"]["rule_id"] == "x"
    )
    assert client.get("/v1/rules/nope/versions").json()["error"]["code"] == "NOT_FOUND"
