"""Decision reason codes (UI.md: an overturn needs one, a bare uphold records ``confirmed``), the
tenant's admin-editable list, the stale-decision conflict, and the appeal queue's SLA order."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from factories import RED, bearer, chat
from fastapi.testclient import TestClient
from sqlalchemy import update

from qc_service.identity.policy import Access, Op, Scope
from qc_service.pipeline.files import ingest_one
from qc_service.review import queue
from qc_service.review.models import Appeal
from qc_service.store import Store
from qc_service.web import messages


def _appealed(client: TestClient, store: Store, rid: str) -> int:
    ingest_one(store, chat(rid, "e1", "销售一组", f"u-{rid}", RED), final=True)
    vid = client.get("/v1/violations", params={"conversation": rid}).json()["items"][0]["id"]
    agent = bearer(store, "agent", employee_id="e1", username="e1")
    assert (
        client.post(
            f"/v1/violations/{vid}/appeal", json={"reason": "不是这个意思"}, headers=agent
        ).status_code
        == 200
    )
    return vid


def test_an_overturn_needs_a_reason_and_a_bare_uphold_records_confirmed(
    client: TestClient, store: Store
) -> None:
    reviewer = bearer(store, "reviewer", username="qa1")
    a, b = _appealed(client, store, "c1"), _appealed(client, store, "c2")
    r = client.post(f"/v1/violations/{a}/decision", json={"decision": "overturn"}, headers=reviewer)
    assert (r.status_code, r.json()["error"]["code"]) == (422, "REASON_REQUIRED")
    assert client.get(f"/v1/violations/{a}").json()["status"] == "appealed"  # nothing changed
    r = client.post(
        f"/v1/violations/{a}/decision",
        json={"decision": "overturn", "reason_code": "nope"},
        headers=reviewer,
    )
    assert (r.status_code, r.json()["error"]["field"]) == (400, "reason_code")
    r = client.post(
        f"/v1/violations/{a}/decision",
        json={"decision": "overturn", "reason_code": "context_ok"},
        headers=reviewer,
    )
    assert (r.json()["status"], r.json()["reason_code"], r.json()["decided_by"]) == (
        "overturned",
        "context_ok",
        "qa1",
    )
    r = client.post(f"/v1/violations/{b}/decision", json={"decision": "uphold"}, headers=reviewer)
    assert (r.json()["status"], r.json()["reason_code"]) == ("upheld", "confirmed")


def test_a_stale_decision_is_refused_and_names_who_decided(
    client: TestClient, store: Store
) -> None:
    vid = _appealed(client, store, "c1")
    first = bearer(store, "reviewer", username="qa1")
    second = bearer(store, "reviewer", username="qa2")
    body = {"decision": "uphold", "expected_status": "appealed"}
    assert (
        client.post(f"/v1/violations/{vid}/decision", json=body, headers=first).status_code == 200
    )
    r = client.post(f"/v1/violations/{vid}/decision", json=body, headers=second)
    assert (r.status_code, r.json()["error"]["code"]) == (409, "ALREADY_DECIDED")
    assert "qa1" in r.json()["error"]["message"]


def test_admins_edit_the_tenants_reason_codes(client: TestClient, store: Store) -> None:
    assert client.get("/v1/review/reasons").json()["machine_error"] == "机器误判"
    new = {"confirmed": "确属违规", "asr_error": "转写错误"}
    assert client.put("/v1/admin/review-reasons", json={"reasons": new}).json() == new
    assert client.get("/v1/review/reasons").json() == new
    r = client.put("/v1/admin/review-reasons", json={"reasons": {"asr_error": "转写错误"}})
    assert r.status_code == 400 and "confirmed" in r.json()["error"]["message"]
    reviewer = bearer(store, "reviewer", username="qa1")
    assert (
        client.put("/v1/admin/review-reasons", json={"reasons": new}, headers=reviewer).status_code
        == 403
    )
    audit = client.get("/v1/audit", params={"action": "review_reasons.changed"}).json()
    assert len(audit["items"]) == 1


def test_the_queue_puts_overdue_appeals_first_and_counts_down(
    client: TestClient, store: Store
) -> None:
    ids = [_appealed(client, store, f"c{i}") for i in range(3)]
    old = datetime.now(UTC) - timedelta(hours=60)
    with store.session_factory() as db, db.begin():
        db.execute(update(Appeal).where(Appeal.violation_id == ids[2]).values(created_at=old))
    scope = Scope(op=Op.VIOLATIONS_DECIDE, access=Access.ALL, tenant_id="default")
    with store.session_factory() as db:
        rows, total, nxt = queue.appeal_queue(db_session=db, scope=scope, filters=queue.QueueFilter(),
                                              sla_hours=48, limit=2)  # fmt: skip
        assert (total, [r.violation_id for r in rows]) == (3, [ids[2], ids[0]])
        rest, _, _ = queue.appeal_queue(db_session=db, scope=scope, filters=queue.QueueFilter(),
                                        sla_hours=48, cursor=nxt)  # fmt: skip
        assert [r.violation_id for r in rest] == [ids[1]]
    now = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)
    assert messages.remaining(now + timedelta(hours=47, minutes=59), now) == "剩余 47 小时"
    assert messages.remaining(now + timedelta(minutes=30), now) == "剩余 不足1小时"
    assert messages.remaining(now - timedelta(seconds=1), now) == "已超时"
    page = client.get("/review", headers={"accept": "text/html"})
    assert page.status_code == 200 and page.text.index("已超时") < page.text.index("剩余 4")
    middle = client.get(f"/review/{ids[0]}?status=appealed", headers={"accept": "text/html"}).text
    assert (
        f'href="/review/{ids[2]}?status=appealed" rel="prev"' in middle
    )  # the overdue one before it
    assert f'href="/review/{ids[1]}?status=appealed" rel="next"' in middle
