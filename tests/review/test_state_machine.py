"""The violation lifecycle through the API: every listed transition works and is audited, every
unlisted one is refused with 409 INVALID_TRANSITION in the one error shape, an overturn gives the
points back and leaves the CRM summary, the appeal window closes."""

from __future__ import annotations

from datetime import timedelta
from itertools import product

import pytest
from factories import bearer
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from qc_service.db.base import utcnow
from qc_service.pipeline.files import ingest_one
from qc_service.review.enums import TRANSITIONS, ViolationStatus
from qc_service.review.models import Violation
from qc_service.store import Store

ERROR_KEYS = {"code", "message", "field", "record_id", "rule_id", "error_id"}
S = ViolationStatus


def _violation(store: Store, rid: str = "c1", text: str = "这边不耐烦了，我说过了自己看") -> int:
    """A conversation with one deductible violation (service.impatient, deduct 20)."""
    rec = {"id": rid, "channel": "wecom", "employee": {"id": "e1", "team": "销售一组", "supervisor_id": "e9"},
           "customer": {"id": "u1"}, "messages": [{"id": "m1", "role": "agent", "text": text}]}  # fmt: skip
    assert ingest_one(store, rec, final=True).conversation_status == "analysed"
    with store.session_factory() as s:
        return s.scalars(select(Violation.id).where(Violation.rule_id == "service.impatient")).one()


def _set_status(store: Store, vid: int, status: str) -> None:
    with store.session_factory() as s, s.begin():
        s.execute(update(Violation).where(Violation.id == vid).values(status=status))


def _move(client: TestClient, vid: int, to: S):  # type: ignore[no-untyped-def]
    if to == S.APPEALED:
        return client.post(
            f"/v1/violations/{vid}/appeal",
            json={"reason": "客户先骂人的"},
            headers=bearer(client.app.state.store, "agent", employee_id="e1", username="e1"),
        )
    if to == S.CONFIRMED:
        return client.post(
            f"/v1/violations/{vid}/confirm",
            json={},
            headers=bearer(client.app.state.store, "reviewer", username="qa1"),
        )
    decision = "uphold" if to == S.UPHELD else "overturn"
    return client.post(f"/v1/violations/{vid}/decision", json={"decision": decision, "comment": "看了录音", "reason_code": "context_ok" if decision == "overturn" else None},
                       headers=bearer(client.app.state.store, "reviewer", username="qa1"))  # fmt: skip


REACHABLE = [(a, b) for a, b in product(S, S) if b != S.OPEN]


@pytest.mark.parametrize(("start", "to"), REACHABLE, ids=[f"{a}->{b}" for a, b in REACHABLE])
def test_every_pair_is_allowed_exactly_when_listed(
    client: TestClient, store: Store, start: S, to: S
) -> None:
    vid = _violation(store)
    _set_status(store, vid, start)
    r = _move(client, vid, to)
    if (start, to) in TRANSITIONS:
        assert r.status_code == 200, r.json()
        body = r.json()
        assert body["status"] == to
        last = body["history"][-1]
        assert (last["action"], last["before"], last["after"]["status"]) == (
            f"status.{to}",
            {"status": start},
            to,
        )
    else:
        assert r.status_code == 409, r.json()
        assert set(r.json()["error"]) == ERROR_KEYS
        assert r.json()["error"]["code"] == "INVALID_TRANSITION"
        with store.session_factory() as s:
            assert s.get(Violation, vid).status == start  # nothing changed


def test_appeal_then_overturn_restores_the_score_and_leaves_the_crm_summary(
    client: TestClient, store: Store
) -> None:
    vid = _violation(store)
    assert client.get("/v1/conversations/c1").json()["score"]["score"] == 80
    appealed = _move(client, vid, S.APPEALED).json()
    assert (
        appealed["appeals"][0]["reason"] == "客户先骂人的"
        and appealed["appeals"][0]["decision"] is None
    )
    decided = _move(client, vid, S.OVERTURNED).json()
    appeal = decided["appeals"][0]
    assert (appeal["decision"], appeal["reviewer"], appeal["comment"]) == (
        "overturn",
        "qa1",
        "看了录音",
    )
    assert appeal["decided_at"] is not None
    assert [h["action"] for h in decided["history"]] == [
        "opened",
        "status.appealed",
        "status.overturned",
    ]
    assert client.get("/v1/conversations/c1").json()["score"]["score"] == 100
    customer = client.get("/v1/customers/u1").json()
    assert customer["violations"]["total"] == 0


def test_uphold_may_change_severity_and_is_audited(client: TestClient, store: Store) -> None:
    vid = _violation(store)
    r = client.post(
        f"/v1/violations/{vid}/decision",
        json={"decision": "uphold", "comment": "属实", "severity": "high"},
    )
    assert (r.json()["status"], r.json()["severity"]) == ("upheld", "high")
    assert [h["action"] for h in r.json()["history"]][-2:] == ["status.upheld", "severity.changed"]
    assert client.get("/v1/conversations/c1").json()["score"]["score"] == 80


def test_appeal_window_closes_and_the_scheduler_confirms(client: TestClient, store: Store) -> None:
    from qc_service.jobs.scheduler import Scheduler

    vid = _violation(store)
    # the app's own scheduler (it ticks once at start) must not confirm before the refused appeal
    client.app.state.scheduler.stop()  # type: ignore[attr-defined]
    with store.session_factory() as s, s.begin():
        s.execute(update(Violation).values(created_at=utcnow() - timedelta(days=8)))
    r = _move(client, vid, S.APPEALED)
    assert r.status_code == 409 and "appeal window" in r.json()["error"]["message"]
    Scheduler(store, lambda _pk: None, holder=client.app.state.scheduler.holder).tick()  # type: ignore[attr-defined]
    body = client.get(f"/v1/violations/{vid}").json()
    assert body["status"] == "confirmed" and body["history"][-1]["actor"] == "system"


def test_unknown_violation_and_bad_decision(client: TestClient, store: Store) -> None:
    vid = _violation(store)
    assert (
        client.post(
            "/v1/violations/999/appeal",
            json={"reason": "x"},
            headers=bearer(client.app.state.store, "agent"),
        ).json()["error"]["code"]
        == "NOT_FOUND"
    )
    r = client.post(f"/v1/violations/{vid}/decision", json={"decision": "maybe"})
    assert r.status_code == 422 and r.json()["error"]["code"] == "REQUEST_INVALID"
