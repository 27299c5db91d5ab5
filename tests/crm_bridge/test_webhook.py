"""The webhook adapter against a real HTTP receiver: signing, retries, dead letters, dedup keys."""

from __future__ import annotations

import json
from collections import defaultdict

from bridge_helpers import SECRET, Enqueue, bridge_settings, event_row
from crm_receiver import DROP, Receiver, running_receiver
from sqlalchemy.orm import Session, sessionmaker

from crm_bridge.dispatcher import dispatch_once
from crm_bridge.outbox.admin import replay
from crm_bridge.settings import BridgeSettings
from crm_bridge.signing import verify_signature


def assert_one_key_per_event(receiver: Receiver) -> None:
    """Every request carries its own event's id as key; no event arrived under two keys."""
    keys: dict[str, set[str]] = defaultdict(set)
    for request in receiver.requests:
        keys[request.event["id"]].add(request.key)
    assert all(k == {event_id} for event_id, k in keys.items()), keys


def test_post_is_signed_compact_utf8_with_the_event_id_as_key(
    factory: sessionmaker[Session], webhook_settings: BridgeSettings, receiver: Receiver,
    put: Enqueue,
) -> None:  # fmt: skip
    event_id = put("tag.added", "u1", tag="高意向", source="rule")
    report = dispatch_once(factory, webhook_settings)
    assert (report.delivered, report.failed, report.dead) == (1, 0, 0)
    [request] = receiver.requests
    assert request.content_type == "application/json"
    assert request.key == event_id
    assert verify_signature(SECRET, request.timestamp, request.body, request.signature)
    assert "高意向".encode() in request.body and b", " not in request.body
    envelope = json.loads(request.body)
    assert envelope == event_row(factory, event_id).payload
    assert set(envelope) == {"id", "type", "occurred_at", "tenant", "data"}
    row = event_row(factory, event_id)
    assert (row.status, row.attempts, row.last_error) == ("delivered", 1, None)
    assert row.delivered_at is not None


def test_a_500_is_retried_then_delivered_exactly_once(
    factory: sessionmaker[Session], webhook_settings: BridgeSettings, receiver: Receiver,
    put: Enqueue,
) -> None:  # fmt: skip
    receiver.script(500, 503)
    event_id = put("tag.added", "u1", tag="vip")
    statuses = [dispatch_once(factory, webhook_settings).attempts[0].status for _ in range(3)]
    assert statuses == ["failed", "failed", "delivered"]
    assert dispatch_once(factory, webhook_settings).attempts == []
    assert [r.key for r in receiver.acknowledged] == [event_id]
    row = event_row(factory, event_id)
    assert (row.status, row.attempts) == ("delivered", 3)
    assert row.last_error is not None and row.last_error.startswith("HTTP 503")
    assert_one_key_per_event(receiver)


def test_an_endpoint_failing_for_good_dead_letters_and_replay_delivers(
    factory: sessionmaker[Session], webhook_settings: BridgeSettings, receiver: Receiver,
    put: Enqueue,
) -> None:  # fmt: skip
    receiver.default = 500
    event_id = put("violation.opened", "u1", violation_id=7, rule_id="R1", severity="high")
    for _ in range(webhook_settings.outbox_max_attempts):
        dispatch_once(factory, webhook_settings)
    row = event_row(factory, event_id)
    assert (row.status, row.attempts, row.next_attempt_at) == ("dead", 4, None)
    assert dispatch_once(factory, webhook_settings).attempts == []
    assert receiver.count() == 4

    receiver.default = "ok"
    assert replay(factory) == 1
    assert dispatch_once(factory, webhook_settings).delivered == 1
    row = event_row(factory, event_id)
    assert (row.status, row.attempts) == ("delivered", 1)
    assert [r.key for r in receiver.acknowledged] == [event_id]


def test_a_400_dead_letters_at_once(
    factory: sessionmaker[Session], webhook_settings: BridgeSettings, receiver: Receiver,
    put: Enqueue,
) -> None:  # fmt: skip
    receiver.script(400)
    event_id = put("tag.added", "u1", tag="vip")
    assert dispatch_once(factory, webhook_settings).dead == 1
    row = event_row(factory, event_id)
    assert (row.status, row.attempts) == ("dead", 1)
    assert row.last_error == 'HTTP 400: {"error":"scripted"}'
    assert dispatch_once(factory, webhook_settings).attempts == []


def test_a_429_is_retried(
    factory: sessionmaker[Session], webhook_settings: BridgeSettings, receiver: Receiver,
    put: Enqueue,
) -> None:  # fmt: skip
    receiver.script(429)
    event_id = put("tag.added", "u1", tag="vip")
    assert dispatch_once(factory, webhook_settings).failed == 1
    assert dispatch_once(factory, webhook_settings).delivered == 1
    assert event_row(factory, event_id).attempts == 2


def test_a_timeout_is_retried(
    factory: sessionmaker[Session], receiver: Receiver, put: Enqueue
) -> None:
    settings = bridge_settings(crm_adapter="webhook", webhook_url=receiver.url,
                               webhook_timeout_seconds=0.3)  # fmt: skip
    receiver.script(("sleep", 1.5))
    event_id = put("tag.added", "u1", tag="vip")
    assert dispatch_once(factory, settings).failed == 1
    row = event_row(factory, event_id)
    assert row.last_error is not None and row.last_error.startswith("timeout after 0.3s")
    assert dispatch_once(factory, settings).delivered == 1
    assert [r.key for r in receiver.requests] == [event_id, event_id]


def test_a_lost_response_redelivers_under_the_same_key_so_the_receiver_can_dedupe(
    factory: sessionmaker[Session], webhook_settings: BridgeSettings, receiver: Receiver,
    put: Enqueue,
) -> None:  # fmt: skip
    receiver.script(DROP, 500)  # received then connection dropped; received then answered 500
    first = put("tag.added", "u1", tag="a")
    second = put("tag.added", "u2", tag="b")
    for _ in range(3):
        dispatch_once(factory, webhook_settings)
    assert {event_row(factory, e).status for e in (first, second)} == {"delivered"}
    assert [r.key for r in receiver.requests] == [first, second, first, second]
    assert_one_key_per_event(receiver)
    deduped = {r.key: r.event for r in receiver.requests}  # what a receiver keeps, by key
    assert set(deduped) == {first, second}


def test_an_unconfigured_webhook_is_retried_with_the_reason(
    factory: sessionmaker[Session], put: Enqueue
) -> None:
    settings = bridge_settings(crm_adapter="webhook", webhook_url=None)
    event_id = put("tag.added", "u1", tag="vip")
    assert dispatch_once(factory, settings).failed == 1
    row = event_row(factory, event_id)
    assert row.last_error == "webhook adapter needs QC_WEBHOOK_URL and QC_WEBHOOK_SECRET to be set"


def test_a_refused_connection_is_retried(factory: sessionmaker[Session], put: Enqueue) -> None:
    with running_receiver() as gone:
        url = gone.url  # the port is closed once the server stops
    settings = bridge_settings(crm_adapter="webhook", webhook_url=url)
    event_id = put("tag.added", "u1", tag="vip")
    assert dispatch_once(factory, settings).failed == 1
    row = event_row(factory, event_id)
    assert row.last_error is not None and row.last_error.startswith(
        "connection error: ConnectError"
    )
