"""Blind property tests of the READ side of ACCESS.md: "access ⇔ policy".

Written blind from /work/shared/ACCESS.md (its role table and the definitions of "own",
"own customers" and "own teams"), the record format in ARCHITECTURE.md ("Data contracts") and
the shared test fixtures (``conftest.py``, ``factories.py``) — without reading the
implementation. The oracle below is an independent reading of the contract:

* read conversations / violations: admin, reviewer → the tenant; manager → conversations whose
  ``employee.team`` is in the user's ``teams``; agent → ``employee.id`` == the user's
  ``employee_id``; sales → conversations of their own customers, never violations (403 on the
  violation endpoints, ``"violations": []`` and ``"score": null`` in a conversation);
  integration → 403.
* read customers and their tags: admin, reviewer → the tenant; manager → own teams' customers;
  sales → own customers; agent, integration → 403.
* a customer's owner (no transfer happens here) is "the employee of their latest conversation"
  (ACCESS.md); the seed makes that conversation deterministic (ingest order and ``started_at``
  agree), and every customer's conversations stay within one team, so "own teams' customers" is
  unambiguous. (The helper first wrote "first conversation", from a wrong brief; the contract's
  word is "latest", and the oracle follows the contract.)
* an object outside the caller's scope or tenant, or a missing one: 404 ``NOT_FOUND``; a role
  that may never do the operation: 403 ``FORBIDDEN`` (whatever the object); lists filter.

Seeding happens once per test function (the ``world`` fixture); Hypothesis draws indices into
the pre-built lists of users and objects.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from factories import bearer
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qc_service.main import create_app
from qc_service.pipeline.files import ingest_one
from qc_service.store import Store

ROLES = ("admin", "manager", "reviewer", "agent", "sales", "integration")
TENANTS = ("default", "t2")
TEAM1, TEAM2, TEAM3, TEAM_NONE = "销售一组", "销售二组", "销售三组", "售后服务组"
ALL_TEAMS = (TEAM1, TEAM2, TEAM3, TEAM_NONE)
EMPLOYEE_IDS = ("e1", "e2", "e3", "e4", "e5", "e9")  # e9 has no conversation anywhere
RED = "加我微信私聊，给你发个红包"  # at least one violation
CLEAN = "您好，请问有什么可以帮您？"

PROPS = settings(
    max_examples=50,
    deadline=None,
    database=None,  # no .hypothesis directory in the repository
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)


@dataclass(frozen=True)
class Conv:
    id: str
    tenant: str
    employee: str
    team: str
    customer: str
    red: bool


# Ingest order is the list order (and ``started_at`` increases with it). Employees keep one team
# per tenant; the same employee id "e1" exists in both tenants (different people), and both
# tenants have a team called 销售一组. Each customer's conversations stay within one team.
CONVS: tuple[Conv, ...] = (
    Conv("c1", "default", "e1", TEAM1, "u1", True),
    Conv("c2", "default", "e2", TEAM1, "u1", True),
    Conv("c3", "default", "e3", TEAM2, "u2", True),
    Conv("c4", "default", "e2", TEAM1, "u3", True),
    Conv("c5", "default", "e4", TEAM3, "u4", True),
    Conv("c6", "default", "e1", TEAM1, "u3", True),  # u3's latest chat is e1's → owner e1
    Conv("c7", "default", "e3", TEAM2, "u5", False),  # a clean chat
    Conv("c8", "t2", "e1", TEAM1, "u6", True),
    Conv("c9", "t2", "e5", TEAM2, "u7", True),
    Conv("c10", "default", "e2", TEAM1, "u1", True),  # u1's latest chat is e2's → owner e2
    Conv("c11", "t2", "e1", TEAM1, "u6", False),
)
CONV_BY_ID = {c.id: c for c in CONVS}


def _owners() -> dict[tuple[str, str], str]:
    owners: dict[tuple[str, str], str] = {}
    for c in CONVS:
        owners[(c.tenant, c.customer)] = c.employee  # the latest conversation wins
    return owners


def _customer_teams() -> dict[tuple[str, str], str]:
    teams: dict[tuple[str, str], set[str]] = {}
    for c in CONVS:
        teams.setdefault((c.tenant, c.customer), set()).add(c.team)
    assert all(len(t) == 1 for t in teams.values()), "seed must keep a customer in one team"
    return {key: next(iter(t)) for key, t in teams.items()}


OWNERS = _owners()
CUSTOMER_TEAM = _customer_teams()
CUSTOMERS: tuple[tuple[str, str], ...] = tuple(OWNERS)  # (tenant, customer id)
MISSING_CONV = "c-missing"
MISSING_CUSTOMER = "u-missing"


def _record(index: int, c: Conv) -> dict[str, Any]:
    return {
        "id": c.id, "channel": "wecom", "tenant": c.tenant,
        "employee": {"id": c.employee, "team": c.team},
        "customer": {"id": c.customer},
        "started_at": f"2026-01-{index + 1:02d}T09:00:00+08:00",
        "messages": [
            {"id": "m1", "role": "customer", "text": "孩子今年四年级了"},
            {"id": "m2", "role": "agent", "text": RED if c.red else CLEAN},
        ],
    }  # fmt: skip


# --------------------------------------------------------------------------------------- users
@dataclass(frozen=True)
class User:
    role: str
    tenant: str
    employee_id: str | None
    teams: tuple[str, ...]


def _user_pool() -> tuple[User, ...]:
    """Several users per role: some chosen to hit edges, the rest random (fixed seed)."""
    chosen = [
        User("agent", "default", "e1", ()),
        User("agent", "t2", "e1", ()),  # same employee id, other tenant
        User("agent", "default", "e9", ()),  # owns nothing
        User("manager", "default", None, (TEAM2,)),
        User("manager", "t2", None, (TEAM1,)),
        User("manager", "default", None, (TEAM1, TEAM3)),
        User("manager", "default", None, (TEAM_NONE,)),  # watches a team with no chats
        User("sales", "default", "e1", ()),  # owns u3 (c4, c6): its latest chat is e1's
        User("sales", "default", "e2", ()),  # owns u1 (c1, c2, c10): its latest chat is e2's
        User("sales", "t2", "e5", ()),
        User("sales", "default", "e9", ()),
        User("admin", "t2", None, ()),
        User("reviewer", "default", None, ()),
    ]
    rng = random.Random(20260101)
    extra: list[User] = []
    for role in ROLES:
        for _ in range(3):
            tenant = rng.choice(TENANTS)
            employee: str | None = rng.choice(EMPLOYEE_IDS)
            if role not in ("agent", "sales") and rng.random() < 0.5:
                employee = None
            teams: tuple[str, ...] = ()
            if role == "manager" or rng.random() < 0.3:
                teams = tuple(sorted(rng.sample(ALL_TEAMS, rng.randint(1, 3))))
            extra.append(User(role, tenant, employee, teams))
    return tuple(chosen + extra)


USERS = _user_pool()
# One sales user for every (tenant, owner) pair, so the sales property mostly sees 200s.
SALES_OWNERS: tuple[User, ...] = tuple(
    sorted({User("sales", t, e, ()) for (t, _), e in OWNERS.items()}, key=repr)
)


# -------------------------------------------------------------------------------------- oracle
def conversation_status(u: User, c: Conv | None) -> int:
    """Status of GET /v1/conversations/{id} for ``u`` (``c`` None: the id does not exist)."""
    if u.role == "integration":
        return 403
    if c is None or c.tenant != u.tenant:
        return 404
    visible = {
        "admin": True,
        "reviewer": True,
        "manager": c.team in u.teams,
        "agent": c.employee == u.employee_id,
        "sales": OWNERS[(c.tenant, c.customer)] == u.employee_id,
    }[u.role]
    return 200 if visible else 404


def violation_status(u: User, c: Conv | None) -> int:
    """Status of GET /v1/violations/{id} for a violation of conversation ``c``."""
    if u.role in ("sales", "integration"):
        return 403
    return conversation_status(u, c)


def customer_status(u: User, key: tuple[str, str] | None) -> int:
    """Status of GET /v1/customers/{id} (and …/tags) for customer ``key`` = (tenant, id)."""
    if u.role in ("agent", "integration"):
        return 403
    if key is None or key[0] != u.tenant:
        return 404
    visible = {
        "admin": True,
        "reviewer": True,
        "manager": CUSTOMER_TEAM[key] in u.teams,
        "sales": OWNERS[key] == u.employee_id,
    }[u.role]
    return 200 if visible else 404


# --------------------------------------------------------------------------------------- world
@dataclass
class Violation:
    id: str
    conv: Conv


@dataclass
class World:
    client: TestClient
    headers: dict[User, dict[str, str]]
    violations: list[Violation]
    missing_violation: str


def _error_code(response: Any) -> str | None:
    try:
        return response.json()["error"]["code"]  # type: ignore[no-any-return]
    except (ValueError, KeyError, TypeError):
        return None


def _auth(store: Store, u: User) -> dict[str, str]:
    headers: dict[str, str] = bearer(
        store, u.role, employee_id=u.employee_id, teams=list(u.teams) or None, tenant=u.tenant
    )
    return headers


@pytest.fixture
def world(store: Store) -> Iterator[World]:
    """Seeds both tenants once per test function and builds every user of the pools."""
    for i, c in enumerate(CONVS):
        result = ingest_one(store, _record(i, c), final=True)
        assert result.conversation_status == "analysed", (c.id, result)
    headers = {u: _auth(store, u) for u in (*USERS, *SALES_OWNERS)}
    with TestClient(create_app(store.settings, store=store)) as client:
        violations: list[Violation] = []
        for tenant in TENANTS:
            admin = _auth(store, User("admin", tenant, None, ()))
            r = client.get("/v1/violations", params={"limit": 500}, headers=admin)
            assert r.status_code == 200, r.text
            page = r.json()
            assert page["total"] == len(page["items"]) and page["next"] is None, page
            for item in page["items"]:
                conv = CONV_BY_ID.get(item["conversation_id"])
                assert conv is not None and conv.tenant == tenant, item  # nothing of t'other
                assert item["employee_id"] == conv.employee and item["team"] == conv.team, item
                violations.append(Violation(str(item["id"]), conv))
            flagged = {v.conv.id for v in violations if v.conv.tenant == tenant}
            red = {c.id for c in CONVS if c.tenant == tenant and c.red}
            assert red <= flagged, f"red-line chats without a violation: {red - flagged}"
        ids = [v.id for v in violations]
        assert len(set(ids)) == len(ids), "violation ids repeat across tenants"
        if all(i.isdigit() for i in ids):
            missing = str(max(int(i) for i in ids) + 100_000)
        else:
            missing = "v-does-not-exist"
        yield World(client, headers, violations, missing)


def _check_refusal(response: Any, expected: int, what: str) -> None:
    assert response.status_code == expected, f"{what}: {response.status_code} {response.text}"
    if expected == 403:
        assert _error_code(response) == "FORBIDDEN", f"{what}: {response.text}"
    elif expected == 404:
        assert _error_code(response) == "NOT_FOUND", f"{what}: {response.text}"


# ----------------------------------------------------------------------------------- properties
user_index = st.integers(min_value=0, max_value=len(USERS) - 1)


@PROPS
@given(ui=user_index, ci=st.integers(min_value=0, max_value=len(CONVS)))
def test_conversation_detail_matches_policy(world: World, ui: int, ci: int) -> None:
    u = USERS[ui]
    conv = CONVS[ci] if ci < len(CONVS) else None
    cid = conv.id if conv else MISSING_CONV
    r = world.client.get(f"/v1/conversations/{cid}", headers=world.headers[u])
    expected = conversation_status(u, conv)
    what = f"GET /v1/conversations/{cid} as {u}"
    _check_refusal(r, expected, what)
    if expected == 200:
        body = r.json()
        if "id" in body:
            assert body["id"] == cid, what
        if u.role == "sales":
            assert body["violations"] == [] and body["score"] is None, f"{what}: {r.text}"
        elif conv is not None and conv.red:
            assert body["violations"], f"{what}: a red-line chat shows no violations"


@PROPS
@given(ui=user_index)
def test_violation_list_is_filtered_to_scope(world: World, ui: int) -> None:
    u = USERS[ui]
    r = world.client.get("/v1/violations", params={"limit": 500}, headers=world.headers[u])
    what = f"GET /v1/violations as {u}"
    if u.role in ("sales", "integration"):
        _check_refusal(r, 403, what)
        return
    assert r.status_code == 200, f"{what}: {r.status_code} {r.text}"
    page = r.json()
    got = sorted(str(item["id"]) for item in page["items"])
    expected = sorted(v.id for v in world.violations if violation_status(u, v.conv) == 200)
    assert got == expected, what
    assert page["total"] == len(expected) and page["next"] is None, f"{what}: {page}"
    for item in page["items"]:
        conv = CONV_BY_ID[item["conversation_id"]]
        assert (item["employee_id"], item["team"]) == (conv.employee, conv.team), item


@PROPS
@given(ui=user_index, vi=st.integers(min_value=0, max_value=10_000))
def test_violation_detail_matches_policy(world: World, ui: int, vi: int) -> None:
    u = USERS[ui]
    n = len(world.violations)
    violation = world.violations[vi % (n + 1)] if vi % (n + 1) < n else None
    vid = violation.id if violation else world.missing_violation
    r = world.client.get(f"/v1/violations/{vid}", headers=world.headers[u])
    expected = violation_status(u, violation.conv if violation else None)
    _check_refusal(r, expected, f"GET /v1/violations/{vid} as {u}")
    if expected == 200:
        body = r.json()
        assert str(body.get("id", vid)) == vid
        if "conversation_id" in body:
            assert body["conversation_id"] == violation.conv.id  # type: ignore[union-attr]


@PROPS
@given(ui=user_index, ki=st.integers(min_value=0, max_value=len(CUSTOMERS)))
def test_customer_and_tags_match_policy(world: World, ui: int, ki: int) -> None:
    u = USERS[ui]
    key = CUSTOMERS[ki] if ki < len(CUSTOMERS) else None
    customer = key[1] if key else MISSING_CUSTOMER
    expected = customer_status(u, key)
    for path in (f"/v1/customers/{customer}", f"/v1/customers/{customer}/tags"):
        r = world.client.get(path, headers=world.headers[u])
        _check_refusal(r, expected, f"GET {path} as {u}")
        if expected == 200 and u.role == "sales" and isinstance(r.json(), dict):
            # "never violations, scores or reviewers' notes"
            body = r.json()
            assert not body.get("violations") and body.get("score") is None, f"GET {path}: {r.text}"


@PROPS
@given(
    si=st.integers(min_value=0, max_value=len(SALES_OWNERS) - 1),
    ci=st.integers(min_value=0, max_value=len(CONVS) - 1),
)
def test_sales_see_own_customers_conversations_without_violations(
    world: World, si: int, ci: int
) -> None:
    u, conv = SALES_OWNERS[si], CONVS[ci]
    what = f"GET /v1/conversations/{conv.id} as {u}"
    r = world.client.get(f"/v1/conversations/{conv.id}", headers=world.headers[u])
    expected = conversation_status(u, conv)
    _check_refusal(r, expected, what)
    if expected == 200:
        body = r.json()
        assert body["violations"] == [], f"{what}: {r.text}"
        assert body["score"] is None, f"{what}: {r.text}"
    v = next(v for v in world.violations if v.conv.id == "c1")
    _check_refusal(
        world.client.get(f"/v1/violations/{v.id}", headers=world.headers[u]), 403, f"{what} (v)"
    )
