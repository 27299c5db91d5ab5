"""POST/GET /v1/conversations and the one error shape."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

ERROR_KEYS = {"code", "message", "field", "record_id", "rule_id", "error_id"}


def drain(client: TestClient) -> None:
    """Wait for the in-process deep lane to finish what was queued."""
    client.app.state.runtime.lane.drain()  # type: ignore[attr-defined]


def _rec(rid: str, *texts: str) -> dict[str, Any]:
    return {"id": rid, "channel": "wecom", "employee": {"id": "e1"}, "customer": {"id": "u1"},
            "messages": [{"id": f"m{i}", "role": "agent", "text": t} for i, t in enumerate(texts, 1)]}  # fmt: skip


def test_ingest_answers_per_record_and_get_shows_findings(client: TestClient) -> None:
    r = client.post(
        "/v1/conversations",
        json={"records": [_rec("a1", "您好", "加 V 信 abc_12345 聊"), {"id": "bad"}]},
    )
    assert r.status_code == 200
    first, second = r.json()["results"]
    got = (first["id"], first["status"], first["conversation_status"], first["alerts"])
    assert got == ("a1", "accepted", "pending", 2)
    drain(client)
    assert second["status"] == "rejected" and second["error"]["record_id"] == "bad"
    assert set(second["error"]) == ERROR_KEYS
    conv = client.get("/v1/conversations/a1").json()
    assert (conv["status"], conv["closed"], conv["stage_errors"]) == ("analysed", False, [])
    assert [m["text"] for m in conv["messages"]] == ["您好", "加 V 信 abc_12345 聊"]
    (violation,) = conv["violations"]
    assert violation["rule_id"] == "redline.private-contact"
    assert [(e["text"], e["start"], e["end"]) for e in violation["evidence"]] == [
        ("加 V 信", 0, 5),
        ("abc_12345", 6, 15),
    ]
    assert conv["score"]["score"] == 0


def test_conflicting_resend_is_409_with_the_record_and_field(client: TestClient) -> None:
    client.post("/v1/conversations", json={"records": [_rec("a1", "您好")]})
    r = client.post("/v1/conversations", json={"records": [_rec("a1", "您好呀")]})
    assert r.status_code == 409
    err = r.json()["results"][0]["error"]
    assert (err["code"], err["record_id"], err["field"]) == ("CONFLICT", "a1", "messages[0].text")


def test_error_shape_on_every_error_path(client: TestClient) -> None:
    cases = [
        (client.get("/v1/conversations/nope"), 404, "NOT_FOUND"),
        (client.post("/v1/conversations", json={"nope": 1}), 422, "REQUEST_INVALID"),
        (client.get("/v1/nothing-here"), 404, "NOT_FOUND"),
    ]
    for response, status, code in cases:
        assert response.status_code == status
        assert set(response.json()["error"]) == ERROR_KEYS
        assert response.json()["error"]["code"] == code
    all_bad = client.post("/v1/conversations", json={"records": [{"id": "x", "channel": "fax"}]})
    assert all_bad.status_code == 422
    assert all_bad.json()["results"][0]["error"]["code"] == "RECORD_INVALID"


def test_openapi_spec_names_operations_after_the_product(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    ops = {op["operationId"] for path in spec["paths"].values() for op in path.values()}
    assert {"ingest_records", "get_conversation", "healthz"} <= ops
