"""The dispatcher: per-customer order, backoff, bounded attempts, adapter choice, concurrency."""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from datetime import timedelta
from typing import Any

import pytest
from bridge_helpers import Enqueue, add_customer, bridge_settings, customer_row, event_row
from crm_receiver import Receiver
from sqlalchemy.orm import Session, sessionmaker

from crm_bridge.adapters import AdapterPool, CrmAdapter, RetryableDeliveryError
from crm_bridge.adapters.recording import RecordingAdapter
from crm_bridge.dispatcher import Dispatcher, dispatch_once
from crm_bridge.outbox.outcomes import retry_delay
from crm_bridge.settings import BridgeSettings
from qc_service.customers.models import Customer
from qc_service.db.base import utcnow

SETTINGS = bridge_settings(crm_adapter="recording")


def pool_with(adapter: CrmAdapter, settings: BridgeSettings = SETTINGS) -> AdapterPool:
    return AdapterPool(settings, instances={adapter.slug: adapter})


def test_a_failing_event_holds_back_its_customer_only(
    factory: sessionmaker[Session], put: Enqueue
) -> None:
    a1, a2 = put("tag.added", "A", tag="1"), put("tag.added", "A", tag="2")
    b1, b2 = put("tag.added", "B", tag="1"), put("tag.added", "B", tag="2")
    recording = RecordingAdapter()
    recording.fail_when = lambda e: "retryable" if e["id"] == a1 else None
    pool = pool_with(recording)
    for _ in range(2):
        dispatch_once(factory, SETTINGS, adapters=pool)
    assert recording.delivered_ids() == [b1, b2]
    assert [e["id"] for e in recording.attempts].count(a2) == 0
    assert (event_row(factory, a1).status, event_row(factory, a2).status) == ("failed", "pending")

    recording.fail_when = None
    dispatch_once(factory, SETTINGS, adapters=pool)
    assert recording.delivered_ids() == [b1, b2, a1, a2]


def test_a_dead_event_does_not_block_its_customer(
    factory: sessionmaker[Session], put: Enqueue
) -> None:
    a1, a2 = put("tag.added", "A", tag="1"), put("tag.added", "A", tag="2")
    recording = RecordingAdapter()
    recording.fail(1, "permanent")
    report = dispatch_once(factory, SETTINGS, adapters=pool_with(recording))
    assert [(a.event_id, a.status) for a in report.attempts] == [(a1, "dead"), (a2, "delivered")]


def test_retries_back_off_exponentially_and_stop_after_max_attempts(
    factory: sessionmaker[Session], put: Enqueue
) -> None:
    settings = bridge_settings(crm_adapter="recording", outbox_retry_base_seconds=2.0,
                               outbox_retry_max_seconds=300, outbox_max_attempts=3)  # fmt: skip
    event_id = put("tag.added", "A", tag="1")
    recording = RecordingAdapter()
    recording.fail(10)
    pool = pool_with(recording, settings)
    now = utcnow()
    for attempt, (low, high) in enumerate([(2, 4), (4, 6)], start=1):
        assert dispatch_once(factory, settings, now=now, adapters=pool).failed == 1
        row = event_row(factory, event_id)
        assert row.attempts == attempt and row.next_attempt_at is not None
        wait = (row.next_attempt_at - now).total_seconds()
        assert low <= wait <= high, (attempt, wait)
        assert dispatch_once(factory, settings, now=now, adapters=pool).attempts == []  # not due
        now = row.next_attempt_at
    assert dispatch_once(factory, settings, now=now, adapters=pool).dead == 1
    row = event_row(factory, event_id)
    assert (row.status, row.attempts, row.next_attempt_at) == ("dead", 3, None)
    assert row.last_error == f"recording adapter: scripted failure of {event_id}"


def test_retry_delay_is_exponential_jittered_and_capped() -> None:
    settings = bridge_settings(outbox_retry_base_seconds=2.0, outbox_retry_max_seconds=30)
    for attempt, low in ((1, 2), (2, 4), (3, 8), (4, 16)):
        assert all(low <= retry_delay(attempt, settings) <= low + 2 for _ in range(20))
    assert retry_delay(10, settings) == 30
    assert retry_delay(500, settings) == 30
    assert retry_delay(3, bridge_settings()) == 0


def test_the_tenant_setting_chooses_the_adapter(
    factory: sessionmaker[Session], put: Enqueue
) -> None:
    add_customer(factory, "u1", tenant="acme", tenant_settings={"crm_adapter": "recording"})
    add_customer(factory, "u1")  # tenant "default": no setting, QC_CRM_ADAPTER=local
    acme = put("tag.added", "u1", tenant="acme", tag="vip")
    put("tag.added", "u1", tag="vip")
    recording = RecordingAdapter()
    report = dispatch_once(factory, bridge_settings(), adapters=pool_with(recording))
    assert [a.adapter for a in report.attempts] == ["recording", "local"]
    assert recording.delivered_ids() == [acme]
    assert customer_row(factory, "u1").extra == {"crm_tags": ["vip"]}
    assert customer_row(factory, "u1", tenant="acme").extra == {}


def test_an_unknown_adapter_is_retried_with_the_reason(
    factory: sessionmaker[Session], put: Enqueue
) -> None:
    event_id = put("tag.added", "u1", tag="vip")
    assert dispatch_once(factory, bridge_settings(crm_adapter="salesforce")).failed == 1
    assert event_row(factory, event_id).last_error == (
        "no CRM adapter named 'salesforce' (group qc_service.crm_adapters)"
    )


class WritesThenFails(CrmAdapter):
    """Changes the customer, then fails: its change must not survive."""

    slug = "writes_then_fails"

    def deliver(self, event: dict[str, Any], *, db_session: Session) -> None:
        customer = db_session.query(Customer).filter_by(external_id="u1").one()
        customer.owner_external_id = "intruder"
        db_session.flush()
        raise RetryableDeliveryError("failed after writing")


def test_a_failed_delivery_rolls_back_the_adapters_writes_but_records_the_attempt(
    factory: sessionmaker[Session], put: Enqueue
) -> None:
    add_customer(factory, "u1", owner="e1")
    event_id = put("tag.added", "u1", tag="vip")
    settings = bridge_settings(crm_adapter="writes_then_fails")
    assert dispatch_once(factory, settings, adapters=pool_with(WritesThenFails(), settings)).failed
    assert customer_row(factory, "u1").owner_external_id == "e1"
    row = event_row(factory, event_id)
    assert (row.status, row.attempts, row.last_error) == ("failed", 1, "failed after writing")


def test_a_pass_attempts_at_most_a_batch(factory: sessionmaker[Session], put: Enqueue) -> None:
    for i in range(5):
        put("tag.added", f"u{i}", tag="vip")
    settings = bridge_settings(crm_adapter="recording", outbox_batch=3)
    recording = RecordingAdapter()
    assert len(dispatch_once(factory, settings, adapters=pool_with(recording)).attempts) == 3
    assert len(dispatch_once(factory, settings, adapters=pool_with(recording)).attempts) == 2


def test_two_dispatchers_at_once_deliver_each_event_once_in_customer_order(
    factory: sessionmaker[Session], webhook_settings: BridgeSettings, receiver: Receiver,
    put: Enqueue,
) -> None:  # fmt: skip
    receiver.delay = 0.01
    written = [put("tag.added", f"u{i % 4}", tag=str(i)) for i in range(24)]
    errors: list[BaseException] = []

    def run() -> None:
        try:
            while dispatch_once(factory, webhook_settings).attempts:
                pass
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    dispatch_once(factory, webhook_settings)  # whatever a thread left while the other held it
    arrived = [r.key for r in receiver.requests]
    assert sorted(arrived) == sorted(written)
    by_customer: dict[str, list[str]] = defaultdict(list)
    for request in receiver.requests:
        by_customer[request.event["data"]["customer_id"]].append(request.key)
    for customer, keys in by_customer.items():
        assert keys == [e for e in written if e in keys], customer


def test_the_dispatcher_thread_delivers_after_commit_and_stops(
    factory: sessionmaker[Session], put: Enqueue
) -> None:
    recording = RecordingAdapter()
    dispatcher = Dispatcher(factory, SETTINGS, adapters=pool_with(recording))
    dispatcher.start()
    try:
        ids = [put("tag.added", "A", tag=str(i)) for i in range(3)]
        dispatcher.notify()
        deadline = time.monotonic() + 10
        while recording.delivered_ids() != ids:
            assert time.monotonic() < deadline, recording.delivered_ids()
            time.sleep(0.02)
        assert dispatcher.running
    finally:
        dispatcher.stop()
    assert not dispatcher.running


@pytest.mark.parametrize("status", ["delivered", "dead"])
def test_settled_events_are_never_attempted_again(
    factory: sessionmaker[Session], put: Enqueue, status: str
) -> None:
    event_id = put("tag.added", "A", tag="1")
    recording = RecordingAdapter()
    if status == "dead":
        recording.fail(1, "permanent")
    dispatch_once(factory, SETTINGS, adapters=pool_with(recording))
    assert event_row(factory, event_id).status == status
    later = utcnow() + timedelta(days=1)
    assert dispatch_once(factory, SETTINGS, now=later, adapters=pool_with(recording)).attempts == []


def test_every_attempt_leaves_a_log_line(
    factory: sessionmaker[Session], put: Enqueue, caplog: pytest.LogCaptureFixture
) -> None:
    ok, retried, refused = (put("tag.added", c, tag="t") for c in ("A", "B", "C"))
    recording = RecordingAdapter()
    recording.fail_when = lambda e: {retried: "retryable", refused: "permanent"}.get(e["id"])
    with caplog.at_level("INFO", logger="crm_bridge.dispatcher"):
        dispatch_once(factory, SETTINGS, adapters=pool_with(recording))
    lines = [(r.levelname, r.getMessage()) for r in caplog.records]
    assert [level for level, _ in lines] == ["INFO", "WARNING", "ERROR"]
    assert lines[0][1].startswith(f"delivered outbox event {ok} (tag.added, default:A)")
    assert f"{retried} (tag.added, default:B) failed via recording, attempt 1" in lines[1][1]
    assert f"{refused} (tag.added, default:C) dead-lettered via recording" in lines[2][1]


def test_a_uuid_whose_digits_read_as_a_mobile_number_stays_whole_in_log_lines() -> None:
    """CI once failed on ``72e14348671245ac…``: 14348671245 is a mobile number's shape."""
    from qc_service.web.masking import clean_log_text

    event = "72e14348671245ac9eff82a8d441d20c"
    assert clean_log_text(f"delivered outbox event {event} (tag.added)") == (
        f"delivered outbox event {event} (tag.added)"
    )
    assert clean_log_text("客户电话 14348671245") == "客户电话 143****1245"
