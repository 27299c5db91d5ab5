"""The segments API end to end: published with the rules, fed by real ingest (a Q&A answer's
age, a group join), run, read back with why; a draft's preview; sales see membership only."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from qc_service.pipeline.files import ingest_one
from qc_service.store import Store
from tests.factories import bearer

DOC = """
rules:
  - {id: tag.child-age, name: 孩子年龄, kind: tag,
     qa: {question: {keyword: {words: [孩子几岁, 孩子多大]}}, answer: {extract: age},
          map: [{range: [6, 12], tag: 小学}, {range: [13, 18], tag: 中学}]}}
segments:
  - id: seg.parents
    name: 小学家长·在群
    when: {all: [{in_group: {match: "家长群*"}}, {attr: {field: age, op: between, value: [6, 12]}}]}
    on_enter: [{tag_customer: 重点家长}]
"""


def _chat(rid: str, customer: str, employee: str, reply: str) -> dict[str, Any]:
    return {"id": rid, "channel": "wecom", "employee": {"id": employee, "team": "销售一组"},
            "customer": {"id": customer},
            "messages": [{"id": "m1", "role": "agent", "text": "请问孩子几岁了？"},
                         {"id": "m2", "role": "customer", "text": reply}]}  # fmt: skip


def _world(client: TestClient, store: Store) -> None:
    assert (
        client.post(
            "/v1/rules", content=DOC, headers={"content-type": "application/yaml"}
        ).status_code
        == 200
    )
    for rid, cust, emp, reply in (("c1", "u1", "e1", "8岁了"), ("c2", "u2", "e2", "今年9岁"),
                                  ("c3", "u3", "e1", "15岁")):  # fmt: skip
        ingest_one(store, _chat(rid, cust, emp, reply), final=True)
    for cust in ("u1", "u2", "u3"):
        r = client.post("/v1/events", json={"events": [{"type": "group_join", "customer": {"id": cust},
                                                        "group": "家长群2", "ts": "2026-11-20T10:00:00+08:00"}]})  # fmt: skip
        assert r.status_code == 200


def test_published_run_and_read_back_with_why(client: TestClient, store: Store) -> None:
    _world(client, store)
    listed = client.get("/v1/segments").json()
    assert [(s["id"], s["version"], s["members"], s["last_run"]) for s in listed] == [
        ("seg.parents", 1, 0, None)
    ]
    dry = client.post("/v1/segments/seg.parents/run", params={"dry_run": True}).json()
    assert (dry["entered"], dry["members"]) == (2, 2)
    run = client.post("/v1/segments/seg.parents/run").json()
    assert (run["status"], run["entered"], run["tags"]) == ("done", 2, 2)
    page = client.get("/v1/segments/seg.parents/members", params={"limit": 1}).json()
    assert page["items"][0]["customer_id"] == "u1" and page["next_cursor"] is not None
    assert page["items"][0]["why"] == [
        "segments[0].when.all[0].in_group",
        "segments[0].when.all[1].attr",
    ]
    rest = client.get(
        "/v1/segments/seg.parents/members", params={"cursor": page["next_cursor"]}
    ).json()
    assert [m["customer_id"] for m in rest["items"]] == ["u2"] and rest["next_cursor"] is None
    one = client.get("/v1/segments/seg.parents").json()
    assert one["definition"]["id"] == "seg.parents" and [r["entered"] for r in one["runs"]] == [2]
    tags = [t["tag"] for t in client.get("/v1/customers/u1/tags").json()]
    assert "重点家长" in tags and "小学" in tags
    view = client.get("/v1/customers/u1").json()
    assert [s["id"] for s in view["segments"]] == ["seg.parents"]
    assert client.get("/v1/segments/seg.nope").status_code == 404


def test_preview_of_a_draft_counts_without_storing(client: TestClient, store: Store) -> None:
    _world(client, store)
    draft = DOC.replace("value: [6, 12]", "value: [6, 20]")
    got = client.post("/v1/segments/seg.parents/preview", content=draft,
                      headers={"content-type": "application/yaml"}).json()  # fmt: skip
    assert [(p["members"], p["enter"], p["leave"]) for p in got] == [(3, 3, 0)]
    assert client.get("/v1/segments").json()[0]["members"] == 0
    bad = client.post("/v1/segments/seg.parents/preview", content=DOC.replace("attr:", "keyword:"),
                      headers={"content-type": "application/yaml"})  # fmt: skip
    assert bad.status_code == 422 and "said" in bad.json()["error"]["message"]


def test_sales_see_their_own_customers_membership_only(client: TestClient, store: Store) -> None:
    _world(client, store)
    client.post("/v1/segments/seg.parents/run")
    sales = bearer(store, "sales", employee_id="e1")
    assert client.get("/v1/segments", headers=sales).json()[0]["members"] == 1
    assert client.get("/v1/segments/seg.parents", headers=sales).json()["definition"] is None
    members = client.get("/v1/segments/seg.parents/members", headers=sales).json()["items"]
    assert [m["customer_id"] for m in members] == ["u1"]
    assert client.post("/v1/segments/seg.parents/run", headers=sales).status_code == 403
