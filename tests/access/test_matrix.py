"""The role matrix of ACCESS.md, enumerated over the app's own OpenAPI operations.

Every (role, operation) pair is requested for real: a role the matrix refuses gets 403
``FORBIDDEN``; a role it allows never gets 401/403 (nor a 500). A new endpoint without a policy
entry fails ``test_every_operation_has_a_policy_entry``. The expected statuses come from
``EXPECTED`` below, written from ACCESS.md's table, not from the policy module.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from factories import RED, bearer, chat
from fastapi.testclient import TestClient

from qc_service.main import PUBLIC, api_routes, create_app, route_operation
from qc_service.pipeline.files import ingest_one
from qc_service.store import Store

ROLES = ("admin", "manager", "reviewer", "agent", "sales", "integration")
Y = "allowed"
EXPECTED: dict[str, dict[str, str]] = {
    # operation: role -> allowed (anything but 401/403) or 403 — ACCESS.md, "Roles and what they may do"
    "self.read": dict.fromkeys(ROLES, Y),
    "ingest": {"admin": Y, "integration": Y},
    "conversations.read": {"admin": Y, "manager": Y, "reviewer": Y, "agent": Y, "sales": Y},
    "violations.read": {"admin": Y, "manager": Y, "reviewer": Y, "agent": Y},
    "violations.appeal": {"agent": Y},
    "violations.decide": {"admin": Y, "reviewer": Y},
    "dashboards.read": {"admin": Y, "manager": Y, "reviewer": Y},
    "alerts.stream": {"admin": Y, "manager": Y, "reviewer": Y, "agent": Y},
    "customers.read": {"admin": Y, "manager": Y, "reviewer": Y, "sales": Y},
    "tags.write": {"admin": Y, "sales": Y},
    "rules.read": {"admin": Y, "manager": Y, "reviewer": Y},
    "rules.write": {"admin": Y},
    "ops.admin": {"admin": Y},
    "segments.read": {"admin": Y, "manager": Y, "reviewer": Y, "sales": Y},
    "segments.write": {"admin": Y},
    "tenant.admin": {"admin": Y},
}


@pytest.fixture
def world(store: Store) -> Iterator[tuple[TestClient, dict[str, dict[str, str]], dict[str, Any]]]:
    """Two tenants; in ``default`` a chat of e1 (销售一组, customer u1) and one of e2 (售后, u2)."""
    for rec in (chat("c-e1", "e1", "销售一组", "u1", RED), chat("c-e2", "e2", "售后服务组", "u2", RED),
                chat("c-x", "e1", "销售一组", "ux", RED, tenant="other")):  # fmt: skip
        assert ingest_one(store, rec, final=True).conversation_status == "analysed"
    users = {role: bearer(store, role) for role in ROLES}
    with TestClient(create_app(store.settings, store=store)) as client:
        admin = users["admin"]
        ids = {}
        for cid in ("c-e1", "c-e2"):
            got = client.get("/v1/violations", params={"conversation": cid}, headers=admin).json()
            ids[cid] = got["items"][0]["id"]
        other = client.get("/v1/violations", headers=bearer(store, "admin", tenant="other")).json()
        ids["c-x"] = other["items"][0]["id"]
        yield client, users, ids


def _operations() -> list[tuple[str, str, Any]]:
    out = []
    for route in api_routes():
        for method in sorted(route.methods - {"HEAD"}):
            out.append((method, route.path, route_operation(route)))
    return out


def test_every_operation_has_a_policy_entry() -> None:
    """No route without ``require(op)`` but the public ones; every op in the expected table."""
    for method, path, op in _operations():
        if (method, path) in PUBLIC:
            assert op is None, (method, path)
            continue
        assert op is not None, f"{method} {path} declares no policy operation"
        assert op.value in EXPECTED, f"{op.value} ({method} {path}) is missing from the matrix test"


def _url(path: str, ids: dict[str, Any]) -> str:
    fill = {"conversation_id": "c-e1", "violation_id": str(ids["c-e1"]), "customer_id": "u1",
            "rule_id": "redline.red-packet", "tag": "小学", "act": "lock", "table": "rules",
            "run_id": "0" * 32, "segment_id": "seg.none"}  # fmt: skip
    return re.sub(r"\{(\w+)\}", lambda m: fill[m.group(1)], path)


BODIES: dict[tuple[str, str], dict[str, Any]] = {
    ("POST", "/v1/conversations"): {"json": {"records": [chat("c-new", "e1", "销售一组", "u1", "您好")]}},
    ("POST", "/v1/conversations/{conversation_id}/messages"): {"json": {"messages": [{"id": "m9", "role": "agent", "text": "好的"}]}},
    ("POST", "/v1/violations/{violation_id}/appeal"): {"json": {"reason": "客户先提的"}},
    ("POST", "/v1/violations/{violation_id}/decision"): {"json": {"decision": "uphold"}},
    ("POST", "/v1/violations/{violation_id}/confirm"): {"json": {}},
    ("PUT", "/v1/admin/review-reasons"): {"json": {"reasons": {"confirmed": "确属违规", "machine_error": "机器误判"}}},
    ("POST", "/v1/rules/test"): {"json": {"record": chat("t1", "e1", "销售一组", "u1", "您好")}},
    ("POST", "/v1/customers/{customer_id}/tags/{tag}/lock"): {"json": {"reason": "核实过"}},
    ("POST", "/v1/customers/{customer_id}/tags/{tag}/confirm"): {"json": {}},
    ("POST", "/v1/events"): {"json": {"events": [{"type": "group_join", "customer": {"id": "u1"}, "group": "g1"}]}},
}  # fmt: skip


@pytest.mark.parametrize("role", ROLES)
def test_each_role_gets_what_the_matrix_gives_on_every_operation(world: Any, role: str) -> None:
    client, users, ids = world
    for method, path, op in _operations():
        if op is None:
            continue
        url = _url(path, ids)
        want = EXPECTED[op.value].get(role, "403")
        if path == "/v1/alerts/stream" and want == Y:
            continue  # an endless stream; its scope is tested in test_alert_scope
        r = client.request(method, url, headers=users[role], **BODIES.get((method, path), {}))
        where = f"{role} {method} {path} -> {r.status_code} {r.text[:200]}"
        assert r.status_code != 500, where
        if want == Y:
            assert r.status_code not in (401, 403), where
        else:
            assert (r.status_code, r.json()["error"]["code"]) == (403, "FORBIDDEN"), where


def test_no_credential_or_a_bad_one_is_401_on_every_operation(world: Any) -> None:
    client, _users, ids = world
    for method, path, op in _operations():
        if op is None:
            continue
        url = _url(path, ids)
        for headers, code in (({}, "AUTH_REQUIRED"), ({"Authorization": "Bearer qct_nope"}, "AUTH_INVALID"),
                              ({"Authorization": "Basic abc"}, "AUTH_INVALID")):  # fmt: skip
            r = client.request(method, url, headers=headers)
            assert (r.status_code, r.json()["error"]["code"]) == (401, code), (
                method,
                path,
                headers,
            )


def test_objects_outside_the_scope_or_tenant_are_404_like_missing_ones(
    world: Any, store: Store
) -> None:
    client, users, ids = world
    agent, sales, manager = users["agent"], users["sales"], users["manager"]
    # e2's conversation and violation: outside the agent's, the sales' and the manager's scope
    for headers in (agent, manager):
        r = client.get(f"/v1/violations/{ids['c-e2']}", headers=headers)
        assert (r.status_code, r.json()["error"]["code"]) == (404, "NOT_FOUND")
        assert client.get("/v1/conversations/c-e2", headers=headers).status_code == 404
    assert client.get("/v1/conversations/c-e2", headers=sales).status_code == 404
    assert client.get("/v1/customers/u2", headers=sales).status_code == 404
    assert client.get("/v1/customers/u1", headers=sales).status_code == 200
    # another tenant's objects are 404 for everyone, admins included
    for role in ("admin", "reviewer", "agent"):
        headers = users[role]
        if role != "agent":
            assert client.get(f"/v1/violations/{ids['c-x']}", headers=headers).status_code == 404
        assert client.get("/v1/conversations/c-x", headers=headers).status_code == 404
    # an agent cannot appeal another agent's violation, and a missing one looks the same
    for vid in (ids["c-e2"], ids["c-x"], 10**9):
        r = client.post(f"/v1/violations/{vid}/appeal", json={"reason": "x"}, headers=agent)
        assert r.status_code == 404
    # lists silently filter to the scope
    seen = {v["employee_id"] for v in client.get("/v1/violations", headers=agent).json()["items"]}
    assert seen == {"e1"}
    teams = {v["team"] for v in client.get("/v1/violations", headers=manager).json()["items"]}
    assert teams == {"销售一组"}
    assert client.get("/v1/violations", headers=users["admin"]).json()["total"] >= 2


def test_sales_read_their_customers_conversations_without_violations_or_scores(world: Any) -> None:
    client, users, _ids = world
    body = client.get("/v1/conversations/c-e1", headers=users["sales"]).json()
    assert body["messages"] and body["violations"] == [] and body["score"] is None
    assert client.get("/v1/customers/u1", headers=users["sales"]).json()["violations"] == {}
    assert client.get("/v1/conversations/c-e1", headers=users["reviewer"]).json()["violations"]


def test_a_record_naming_another_tenant_is_refused_and_nothing_is_written(
    world: Any, store: Store
) -> None:
    client, users, _ids = world
    rec = chat("c-evil", "e1", "销售一组", "u1", RED, tenant="other")
    r = client.post("/v1/conversations", json={"records": [rec]}, headers=users["integration"])
    assert r.status_code == 403
    assert r.json()["results"][0]["error"]["code"] == "TENANT_MISMATCH"
    other_admin = bearer(store, "admin", tenant="other")
    assert client.get("/v1/conversations/c-evil", headers=other_admin).status_code == 404
    r = client.get("/v1/violations", headers={**users["admin"], "X-QC-Tenant": "other"})
    assert (r.status_code, r.json()["error"]["code"]) == (403, "TENANT_MISMATCH")


def test_the_actor_recorded_is_the_authenticated_user_not_a_header(
    world: Any, store: Store
) -> None:
    client, users, ids = world
    headers = {**users["reviewer"], "X-QC-Actor": "somebody-else"}
    r = client.post(
        f"/v1/violations/{ids['c-e1']}/decision", json={"decision": "uphold"}, headers=headers
    )
    assert r.status_code == 200, r.text
    actors = [h["actor"] for h in r.json()["history"]]
    assert "somebody-else" not in actors
    assert any(a and a.startswith("reviewer-default") for a in actors)


def test_server_owned_fields_in_a_body_are_refused(world: Any) -> None:
    client, users, ids = world
    for body in ({"reason": "x", "status": "overturned"}, {"reason": "x", "reviewer": "me"}):
        r = client.post(f"/v1/violations/{ids['c-e1']}/appeal", json=body, headers=users["agent"])
        assert (r.status_code, r.json()["error"]["code"]) == (422, "REQUEST_INVALID")
    r = client.post(f"/v1/violations/{ids['c-e1']}/decision",
                    json={"decision": "uphold", "decided_at": "2020-01-01T00:00:00Z"}, headers=users["reviewer"])  # fmt: skip
    assert r.status_code == 422
