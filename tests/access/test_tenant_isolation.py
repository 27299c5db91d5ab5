"""Two tenants with the same record ids, through the API, the deep lane, the scheduler and the
CRM dispatcher: each sees, analyses and delivers only its own, with its own CRM settings."""

from __future__ import annotations

from factories import RED, bearer, chat
from fastapi.testclient import TestClient
from sqlalchemy import select

from crm_bridge.adapters.recording import RecordingAdapter
from crm_bridge.adapters.registry import AdapterPool
from crm_bridge.dispatcher import dispatch_once
from crm_bridge.outbox.models import OutboxEvent
from crm_bridge.settings import BridgeSettings
from qc_service.db.session import write_transaction
from qc_service.review.models import Violation
from qc_service.store import Store
from qc_service.tenancy.models import Tenant
from qc_service.tenancy.service import get_or_create_tenant


def test_same_ids_in_two_tenants_stay_apart_through_every_lane(
    client: TestClient, store: Store
) -> None:
    with write_transaction(store.session_factory) as db:
        get_or_create_tenant(db_session=db, tenant_id="acme")
        db.get(Tenant, "acme").settings = {"crm_adapter": "recording"}  # type: ignore[union-attr]
    bots = {t: bearer(store, "integration", tenant=t) for t in ("default", "acme")}
    admins = {t: bearer(store, "admin", tenant=t) for t in ("default", "acme")}
    texts = {"default": RED, "acme": "您好，请问有什么可以帮您"}
    for tenant, bot in bots.items():
        rec = {**chat("c1", "e1", "销售一组", "u1", texts[tenant]), "closed": True}
        rec.pop("tenant")  # the tenant comes from the token
        r = client.post("/v1/conversations", json={"records": [rec]}, headers=bot)
        assert r.json()["results"][0]["status"] == "accepted", r.text
    client.app.state.runtime.lane.drain()  # type: ignore[attr-defined]  # the deep lane ran both
    for tenant, admin in admins.items():
        body = client.get("/v1/conversations/c1", headers=admin).json()
        assert (body["tenant"], body["messages"][1]["text"]) == (tenant, texts[tenant])
        assert body["status"] == "analysed"
    assert client.get("/v1/violations", headers=admins["acme"]).json()["total"] == 0
    assert client.get("/v1/violations", headers=admins["default"]).json()["total"] > 0
    with store.session_factory() as db:
        assert set(db.scalars(select(Violation.tenant_id))) == {"default"}
        outbox = {(e.tenant_id, e.event_type) for e in db.scalars(select(OutboxEvent))}
    assert all(t == "default" for t, _ in outbox) and outbox
    # the dispatcher delivers each tenant's events with that tenant's adapter
    client.app.state.dispatcher.stop()  # type: ignore[attr-defined]
    recording = RecordingAdapter()
    with write_transaction(store.session_factory) as db:
        from crm_bridge.outbox.service import enqueue

        enqueue(db_session=db, tenant_id="acme", event_type="tag.added", customer_external_id="u1",
                data={"tag": "vip"})  # fmt: skip
    settings = BridgeSettings(crm_adapter="local")
    pool = AdapterPool(settings, instances={"recording": recording})
    while dispatch_once(store.session_factory, settings, adapters=pool).attempts:
        pass
    assert {e["tenant"] for e in recording.delivered} == {"acme"}
    with store.session_factory() as db:
        statuses = {(e.tenant_id, e.status) for e in db.scalars(select(OutboxEvent))}
    assert statuses <= {("default", "delivered"), ("acme", "delivered")}


def test_the_scheduler_closes_each_tenants_idle_chats_and_the_final_run_stays_in_its_tenant(
    client: TestClient, store: Store
) -> None:
    from datetime import timedelta

    from sqlalchemy import update

    from qc_service.conversations.models import Conversation
    from qc_service.db.base import utcnow
    from qc_service.jobs.scheduler import Scheduler

    texts = {"default": RED, "acme": "您好"}
    for tenant, text in texts.items():
        rec = chat("idle-1", "e1", "销售一组", "u1", text)
        rec.pop("tenant")
        assert client.post("/v1/conversations", json={"records": [rec]},
                           headers=bearer(store, "integration", tenant=tenant)).status_code == 200  # fmt: skip
    lane = client.app.state.runtime.lane  # type: ignore[attr-defined]
    lane.drain()
    with store.session_factory() as s, s.begin():
        s.execute(update(Conversation).values(last_message_at=utcnow() - timedelta(hours=2)))
    holder = client.app.state.scheduler.holder  # type: ignore[attr-defined]
    closed = (
        Scheduler(store, lane.submit, holder=holder)
        .tick()
        .results["conversations.close_idle"]["closed"]
    )
    assert len(closed) == 2
    lane.drain()
    for tenant in texts:
        body = client.get(
            "/v1/conversations/idle-1", headers=bearer(store, "admin", tenant=tenant)
        ).json()
        assert (body["tenant"], body["closed"], body["status"]) == (tenant, True, "analysed")
        assert bool(body["violations"]) is (tenant == "default")
