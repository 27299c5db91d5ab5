"""Read APIs: violation pages with filters, a violation in context, customers, scores."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from factories import bearer
from fastapi.testclient import TestClient

from qc_service.config import Settings
from qc_service.demo import DEMO_FILE
from qc_service.main import create_app
from qc_service.pipeline.files import ingest_one
from qc_service.store import Store, open_store


@pytest.fixture(scope="module")
def demo_client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    """The demo set in a SQLite store (read paths do not differ by backend)."""
    import json

    db = tmp_path_factory.mktemp("read") / "qc.db"
    store: Store = open_store(Settings(database_url=f"sqlite:///{db}", sweep_interval_seconds=3600))
    for n, line in enumerate(DEMO_FILE.read_text(encoding="utf-8").splitlines(), 1):
        ingest_one(store, json.loads(line), line=n, final=True)
    with TestClient(create_app(store.settings, store=store)) as c:
        c.headers.update(bearer(store))
        yield c
    store.close()


def test_violation_pages_filter_and_paginate(demo_client: TestClient) -> None:
    everything = demo_client.get("/v1/violations", params={"limit": 500}).json()
    assert everything["total"] == 77 and everything["next"] is None
    first = demo_client.get("/v1/violations", params={"limit": 30}).json()
    second = demo_client.get("/v1/violations", params={"limit": 30, "cursor": first["next"]}).json()
    ids = [v["id"] for v in first["items"] + second["items"]]
    assert len(ids) == len(set(ids)) == 60 and ids == sorted(ids, reverse=True)
    red = demo_client.get(
        "/v1/violations", params={"rule": "redline.red-packet", "limit": 500}
    ).json()
    assert red["total"] == 23 and {v["rule_id"] for v in red["items"]} == {"redline.red-packet"}
    agent = demo_client.get("/v1/violations", params={"agent": "e03", "limit": 500}).json()
    assert agent["total"] == 13 and {v["employee_id"] for v in agent["items"]} == {"e03"}
    item = red["items"][0]
    assert {
        "id",
        "conversation_id",
        "rule_id",
        "rule_version",
        "severity",
        "status",
        "created_at",
    } <= set(item)
    team = demo_client.get(
        "/v1/violations", params={"team": "理财顾问组", "severity": "critical"}
    ).json()
    assert team["total"] > 0 and all(
        v["team"] == "理财顾问组" and v["severity"] == "critical" for v in team["items"]
    )


def test_violation_detail_shows_evidence_in_context(demo_client: TestClient) -> None:
    vid = demo_client.get("/v1/violations", params={"rule": "redline.private-contact"}).json()[
        "items"
    ][0]["id"]
    detail = demo_client.get(f"/v1/violations/{vid}").json()
    ev = detail["evidence"][0]
    context_ids = [m["id"] for m in ev["context"]]
    assert ev["message_id"] in context_ids and 1 < len(context_ids) <= 5
    message = next(m for m in ev["context"] if m["id"] == ev["message_id"])
    assert message["text"][ev["start"] : ev["end"]] == ev["text"]
    assert detail["history"][0]["action"] == "opened" and detail["appeals"] == []


def test_customer_view_and_scores(demo_client: TestClient) -> None:
    cid = demo_client.get("/v1/violations", params={"rule": "redline.red-packet"}).json()["items"][
        0
    ]["customer_id"]
    customer = demo_client.get(f"/v1/customers/{cid}").json()
    assert (
        customer["owner_id"] and customer["violations"]["by_rule"].get("redline.red-packet", 0) >= 1
    )
    assert any(t["tag"] == "红包敏感" and t["evidence"] for t in customer["tags"])
    assert demo_client.get("/v1/customers/nobody").json()["error"]["code"] == "NOT_FOUND"
    by_agent = demo_client.get("/v1/scores", params={"group_by": "agent"}).json()
    worst = sorted(by_agent["items"], key=lambda g: g["mean_score"])[:2]
    assert {g["key"] for g in worst} == {"e03", "e08"}  # the demo set's two repeat offenders
    assert next(g for g in by_agent["items"] if g["key"] == "e03")["violations"] == 13
    by_day = demo_client.get("/v1/scores", params={"group_by": "day"}).json()
    assert [g["key"] for g in by_day["items"]] == sorted(g["key"] for g in by_day["items"])
    assert all(k["key"].startswith("2026-11-") for k in by_day["items"])
    assert sum(g["conversations"] for g in by_day["items"]) == 364


def test_violation_counts_by_rule_and_day(demo_client: TestClient) -> None:
    by_rule = {
        g["key"]: g
        for g in demo_client.get("/v1/violations/counts", params={"group_by": "rule"}).json()[
            "items"
        ]
    }
    assert (
        by_rule["redline.red-packet"]["violations"] == 23
        and by_rule["redline.red-packet"]["overturn_rate"] is None
    )
    by_day = demo_client.get("/v1/violations/counts", params={"group_by": "day"}).json()["items"]
    assert sum(g["violations"] for g in by_day) == 77
