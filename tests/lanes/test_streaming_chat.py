"""Streaming chat on the embedded default: appends, the hot lane inside the call, the deep lane
off the request thread, close, idle close, and a rule mixing lexical and deep branches."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select, update

from qc_service.alerts.models import Alert
from qc_service.conversations.models import Conversation
from qc_service.db.base import utcnow
from qc_service.db.session import write_transaction
from qc_service.jobs.scheduler import Scheduler
from qc_service.review.models import Evidence, Violation
from qc_service.rules.loader import parse_rules_text
from qc_service.rulesets.service import publish
from qc_service.store import Store


def drain(client: TestClient) -> None:
    client.app.state.runtime.lane.drain()  # type: ignore[attr-defined]


def start_chat(client: TestClient, rid: str = "chat-1") -> None:
    record = {"id": rid, "channel": "wecom", "employee": {"id": "e1", "team": "销售一组", "supervisor_id": "e9"},
              "customer": {"id": "u1"}, "messages": [{"id": "m1", "role": "customer", "text": "在吗"}]}  # fmt: skip
    assert (
        client.post("/v1/conversations", json={"records": [record]}).json()["results"][0]["status"]
        == "accepted"
    )


def conv_row(store: Store, rid: str = "chat-1") -> Conversation:
    with store.session_factory() as s:
        return s.scalars(select(Conversation).where(Conversation.external_id == rid)).one()


def test_append_raises_the_alert_inside_the_call_once_per_rule(
    client: TestClient, store: Store
) -> None:
    start_chat(client)
    r = client.post(
        "/v1/conversations/chat-1/messages",
        json={"messages": [{"id": "m2", "role": "agent", "text": "加 V 信聊"}]},
    )
    assert r.json() == {
        "id": "chat-1",
        "appended": 1,
        "unchanged": 0,
        "alerts": 2,
    }  # agent + supervisor
    r = client.post(
        "/v1/conversations/chat-1/messages",
        json={"messages": [{"id": "m3", "role": "agent", "text": "加我vx"}]},
    )
    assert r.json()["alerts"] == 0  # de-duplicated per (conversation, rule)
    with store.session_factory() as s:
        alerts = s.scalars(select(Alert).order_by(Alert.id)).all()
        assert [(a.rule_id, a.target) for a in alerts] == [
            ("redline.private-contact", "agent"),
            ("redline.private-contact", "supervisor"),
        ]
        ev = alerts[0].payload["evidence"][0]
        assert (ev["message_id"], ev["start"], ev["end"], ev["text"]) == ("m2", 0, 5, "加 V 信")
    drain(client)
    with store.session_factory() as s:
        (v,) = s.scalars(select(Violation)).all()
        assert [e.text for e in s.scalars(select(Evidence).order_by(Evidence.id))] == [
            "加 V 信",
            "加我vx",
        ]
        assert v.status == "open"
    assert conv_row(store).status == "analysed"


def test_append_conflict_unknown_and_bad_messages(client: TestClient) -> None:
    start_chat(client)
    r = client.post(
        "/v1/conversations/chat-1/messages",
        json={"messages": [{"id": "m1", "role": "customer", "text": "改了"}]},
    )
    assert r.status_code == 409 and r.json()["error"]["field"] == "messages[0].text"
    r = client.post(
        "/v1/conversations/nope/messages",
        json={"messages": [{"id": "m1", "role": "agent", "text": "x"}]},
    )
    assert r.status_code == 404 and r.json()["error"]["code"] == "NOT_FOUND"
    r = client.post(
        "/v1/conversations/chat-1/messages",
        json={"messages": [{"id": "m9", "role": "robot", "text": "x"}]},
    )
    assert r.status_code == 422
    assert (r.json()["error"]["code"], r.json()["error"]["field"]) == (
        "RECORD_INVALID",
        "messages[0].role",
    )


def test_close_then_append_reopens(client: TestClient, store: Store) -> None:
    start_chat(client)
    assert client.post("/v1/conversations/chat-1/close").json() == {
        "id": "chat-1",
        "closed": True,
        "already_closed": False,
    }
    drain(client)
    assert (conv_row(store).closed, conv_row(store).status) == (True, "analysed")
    client.post(
        "/v1/conversations/chat-1/messages",
        json={"messages": [{"id": "m2", "role": "agent", "text": "还在吗"}]},
    )
    assert conv_row(store).closed is False
    drain(client)
    assert conv_row(store).status == "analysed"


def test_idle_chats_are_closed_by_the_scheduler(client: TestClient, store: Store) -> None:
    start_chat(client)
    drain(client)
    with store.session_factory() as s, s.begin():
        s.execute(update(Conversation).values(last_message_at=utcnow() - timedelta(minutes=31)))
    submitted: list[int] = []
    holder = client.app.state.scheduler.holder  # type: ignore[attr-defined]
    result = Scheduler(store, submitted.append, holder=holder).tick()
    closed = result.results["conversations.close_idle"]["closed"]
    assert result.ran and closed == [conv_row(store).id] and submitted == closed
    assert (conv_row(store).closed, conv_row(store).status) == (True, "pending")


def test_stuck_conversations_are_requeued_and_only_one_scheduler_runs(store: Store) -> None:
    from qc_service.pipeline.files import ingest_one

    ingest_one(store, {"id": "c1", "channel": "im", "employee": {"id": "e1"}, "customer": {"id": "u"},
                       "messages": [{"id": "m1", "role": "agent", "text": "hi"}]}, final=True)  # fmt: skip
    with store.session_factory() as s, s.begin():
        s.execute(
            update(Conversation).values(
                status="pending", lease_until=utcnow() - timedelta(seconds=1)
            )
        )

    def requeued(result: Any) -> list[int]:
        return result.results["pipeline.requeue_stuck"]["requeued"]

    first: list[int] = []
    assert requeued(Scheduler(store, first.append, holder="a").tick()) == [conv_row(store, "c1").id]
    assert first == [conv_row(store, "c1").id]  # submitted after the job's commit
    assert (
        Scheduler(store, first.append, holder="b").tick().ran is False
    )  # a's lease is still valid
    again: list[int] = []
    assert (
        requeued(Scheduler(store, again.append, holder="a").tick()) == []
    )  # its own lease was renewed


def test_mixed_rule_alerts_on_its_lexical_branch_and_the_deep_lane_adds_evidence(
    client: TestClient, store: Store, tmp_path: Path
) -> None:
    rules = """
rules:
  - id: service.pushy
    name: 利诱或复读
    when:
      any:
        - {keyword: {words: [内部价], role: agent}}
        - {repetition: {min_times: 3, role: agent}}
    actions: [{alert: agent}]
"""
    with write_transaction(store.session_factory) as s:
        publish(
            db_session=s,
            tenant_id="default",
            doc=parse_rules_text(rules, "r.yaml"),
            source="file",
            source_name="r.yaml",
        )
    start_chat(client)
    msgs = [{"id": "m2", "role": "agent", "text": "给您按内部价算"}]
    assert (
        client.post("/v1/conversations/chat-1/messages", json={"messages": msgs}).json()["alerts"]
        == 1
    )
    drain(client)
    again = [{"id": f"r{i}", "role": "agent", "text": "考虑一下吧！"} for i in range(3)]
    assert (
        client.post("/v1/conversations/chat-1/messages", json={"messages": again}).json()["alerts"]
        == 0
    )
    drain(client)
    with store.session_factory() as s:
        (v,) = s.scalars(select(Violation).where(Violation.rule_id == "service.pushy")).all()
        assert [(e.kind, e.message_external_id) for e in v.evidence] == [
            ("span", "m2"), ("message", "r0"), ("message", "r1"), ("message", "r2"),
        ]  # fmt: skip
