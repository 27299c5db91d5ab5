"""Holes a security review found, each closed and kept closed."""

from __future__ import annotations

import threading
from typing import Any

from factories import RED, bearer, chat
from fastapi.testclient import TestClient

from qc_service.db.session import write_transaction
from qc_service.identity import service as identity
from qc_service.pipeline.files import ingest_one
from qc_service.store import Store
from qc_service.web.masking import mask_json_text


def test_concurrent_wrong_passwords_get_at_most_five_real_checks(store: Store) -> None:
    bearer(store, "reviewer", username="target")
    outcomes: list[Any] = []
    lock = threading.Lock()

    def guess() -> None:
        with write_transaction(store.session_factory) as db:
            out = identity.login(
                db, username="target", password="guess-guess", default_tenant="default"
            )
        with lock:
            outcomes.append(out)

    threads = [threading.Thread(target=guess) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    checked = [o for o in outcomes if o.retry_after is None]
    assert len(outcomes) == 16 and len(checked) == 5  # the rest were throttled before any check


def test_an_api_record_cannot_point_at_files_outside_its_tenants_folder(
    client: TestClient, store: Store
) -> None:
    bot = bearer(store, "integration")
    for audio in (
        "/etc/passwd",
        "../other/x.wav",
        "other/c1.wav",
        "c1.wav",
        "default/../other/c1.wav",
    ):
        rec = {**chat("call-x", "e1", "销售一组", "u1", "您好"), "channel": "call",
               "call": {"audio": audio, "channels": {"agent": 0, "customer": 1}}}  # fmt: skip
        r = client.post("/v1/conversations", json={"records": [rec]}, headers=bot)
        err = r.json()["results"][0]["error"]
        assert (r.status_code, err["code"], err["field"]) == (
            422,
            "RECORD_INVALID",
            "call.audio",
        ), audio
    ok = {
        **chat("call-y", "e1", "销售一组", "u1", "您好"),
        "channel": "call",
        "call": {"audio": "default/y.wav"},
    }
    assert client.post("/v1/conversations", json={"records": [ok]}, headers=bot).status_code == 200


def test_disguised_numbers_in_any_script_are_masked_in_answers() -> None:
    for number in ("❶❸❽❶❷❸❹❺❻❼❽", "㊀㊂㊇㊀㊁㊂㊃㊄㊅㊆㊇", "¹³⁸¹²³⁴⁵⁶⁷⁸"):
        out = mask_json_text(f'{{"text": "电话{number}"}}')
        assert number not in out and "****" in out, out


def test_a_managers_customer_view_counts_only_their_teams_findings(
    client: TestClient, store: Store
) -> None:
    ingest_one(store, chat("c-a", "e1", "销售一组", "u1", RED), final=True)
    ingest_one(store, chat("c-b", "e2", "售后服务组", "u1", RED), final=True)
    team_b = bearer(store, "manager", teams=["售后服务组"])
    summary = client.get("/v1/customers/u1", headers=team_b).json()["violations"]
    admin_total = client.get("/v1/customers/u1").json()["violations"]["total"]
    assert summary["total"] * 2 == admin_total and summary["total"] > 0


def test_removing_a_tag_is_audited_with_the_salesperson(client: TestClient, store: Store) -> None:
    rules = "rules:\n  - {id: tag.grade, name: 年级, kind: tag, tag: 小学, when: {keyword: {words: [四年级], role: customer}}}\n"
    assert (
        client.post(
            "/v1/rules", content=rules, headers={"content-type": "application/yaml"}
        ).status_code
        == 200
    )
    ingest_one(store, chat("c-t", "e1", "销售一组", "u1", "您好"), final=True)
    sales = bearer(store, "sales", employee_id="e1", username="sun")
    assert client.delete("/v1/customers/u1/tags/小学", headers=sales).status_code == 204
    events = client.get("/v1/audit", params={"action": "tag.removed"}).json()["items"]
    assert [(e["actor"], e["object_id"], e["before"]) for e in events] == [
        ("sun", "u1", {"tag": "小学"})
    ]


def test_sales_own_the_customers_of_their_latest_conversation_and_a_transfer_sticks(
    client: TestClient, store: Store
) -> None:
    first = {
        **chat("c-1", "e1", "销售一组", "u1", "您好"),
        "started_at": "2026-11-01T09:00:00+08:00",
    }
    later = {
        **chat("c-2", "e2", "销售一组", "u1", "您好"),
        "started_at": "2026-11-05T09:00:00+08:00",
    }
    older = {
        **chat("c-0", "e3", "销售一组", "u1", "您好"),
        "started_at": "2026-10-01T09:00:00+08:00",
    }
    for rec in (first, later, older):  # arrival order differs from conversation order
        ingest_one(store, rec, final=True)
    e1, e2 = bearer(store, "sales", employee_id="e1"), bearer(store, "sales", employee_id="e2")
    assert client.get("/v1/customers/u1", headers=e2).status_code == 200
    assert client.get("/v1/customers/u1", headers=e1).status_code == 404
    from crm_bridge.adapters.local import _transfer_requested
    from qc_service.customers.service import get_customer

    with write_transaction(store.session_factory) as db:
        customer = get_customer(db_session=db, tenant_id="default", external_id="u1")
        assert customer is not None
        _transfer_requested(customer, {"to_employee": "e1"})
    ingest_one(
        store,
        {**chat("c-3", "e2", "销售一组", "u1", "您好"), "started_at": "2026-11-09T09:00:00+08:00"},
        final=True,
    )
    assert client.get("/v1/customers/u1", headers=e1).status_code == 200  # the transfer holds
    assert client.get("/v1/customers/u1", headers=e2).status_code == 404


def test_records_and_messages_may_not_carry_server_owned_fields(
    client: TestClient, store: Store
) -> None:
    bot = bearer(store, "integration")
    for extra, field in (({"status": "analysed"}, "status"), ({"score": 100}, "score")):
        rec = {**chat("c-s", "e1", "销售一组", "u1", "您好"), **extra}
        err = client.post("/v1/conversations", json={"records": [rec]}, headers=bot).json()[
            "results"
        ][0]["error"]
        assert (err["code"], err["field"]) == ("RECORD_INVALID", field)
    assert client.post("/v1/conversations", json={"records": [chat("c-s", "e1", "销售一组", "u1", "您好")]},
                       headers=bot).status_code == 200  # fmt: skip
    r = client.post("/v1/conversations/c-s/messages", headers=bot,
                    json={"messages": [{"id": "m9", "role": "agent", "text": "好", "reviewer": "me"}]})  # fmt: skip
    assert (r.status_code, r.json()["error"]["field"]) == (422, "messages[0].reviewer")


def test_the_spec_and_docs_need_a_credential(client: TestClient) -> None:
    assert client.get("/openapi.json").json()["paths"]
    client.headers.pop("Authorization")
    for path in ("/openapi.json", "/docs"):
        assert client.get(path).json()["error"]["code"] == "AUTH_REQUIRED"
    assert client.get("/redoc").status_code == 404
    assert client.get("/v1/healthz").status_code == 200


def test_lone_surrogates_and_huge_cursors_are_clear_errors_not_500s(
    client: TestClient, store: Store
) -> None:
    import json
    import logging

    bot = bearer(store, "integration")
    record = chat("c-u", "e1", "销售一组", "u1", "好")
    body = json.dumps({"records": [record]}, ensure_ascii=False).replace(
        "好", "\\ud8d5"
    )  # valid JSON
    r = client.post(
        "/v1/conversations", content=body, headers={**bot, "content-type": "application/json"}
    )
    err = r.json()["results"][0]["error"]
    assert (r.status_code, err["code"], err["field"]) == (422, "RECORD_INVALID", "messages[1].text")
    for url in (
        "/v1/audit?cursor=16461437818278860124887891612532736",
        "/v1/violations?cursor=99999999999999999999",
    ):
        r = client.get(url)
        assert (r.status_code, r.json()["error"]["code"]) == (422, "REQUEST_INVALID"), url
    for rules in ('{"rules": [{"id": "x", "name": "\\ud800", "when": {"keyword": {"words": ["a"]}}}]}',
                  '{"rules": [{"id": "\\ud800\\udc00x\\ud800", "when": {"bogus": 1}}]}'):  # fmt: skip
        r = client.post("/v1/rules", content=rules, headers={"content-type": "application/json"})
        assert (r.status_code, r.json()["error"]["code"]) == (422, "RULE_INVALID"), rules
    logging.getLogger("qc_service.test").warning(
        "odd text %s", "\ud8d5 13812345678"
    )  # must not raise
