"""The local adapter keeps the customer's CRM view (tags, violation summary, owner) in our DB."""

from __future__ import annotations

import copy

from bridge_helpers import TENANT, Enqueue, add_customer, bridge_settings, customer_row, event_row
from sqlalchemy.orm import Session, sessionmaker

from crm_bridge.adapters.local import LocalAdapter
from crm_bridge.dispatcher import dispatch_once
from qc_service.db.session import write_transaction

SETTINGS = bridge_settings()  # crm_adapter="local"


def deliver_all(factory: sessionmaker[Session]) -> None:
    report = dispatch_once(factory, SETTINGS)
    assert report.failed == report.dead == 0, report


def opened(put: Enqueue, violation_id: int, customer: str = "u1") -> str:
    return put("violation.opened", customer, violation_id=violation_id, rule_id=f"R{violation_id}",
               severity="high", status="open", conversation_id=f"c{violation_id}")  # fmt: skip


def decided(put: Enqueue, violation_id: int, status: str) -> str:
    return put("violation.decided", "u1", violation_id=violation_id, rule_id=f"R{violation_id}",
               severity="high", status=status, conversation_id=f"c{violation_id}")  # fmt: skip


def test_tags_are_added_once_and_removed(factory: sessionmaker[Session], put: Enqueue) -> None:
    add_customer(factory, "u1")
    put("tag.added", "u1", tag="高意向")
    put("tag.added", "u1", tag="投诉风险")
    put("tag.added", "u1", tag="高意向")
    deliver_all(factory)
    assert customer_row(factory, "u1").extra["crm_tags"] == ["高意向", "投诉风险"]
    put("tag.removed", "u1", tag="高意向")
    put("tag.removed", "u1", tag="不存在")
    deliver_all(factory)
    assert customer_row(factory, "u1").extra["crm_tags"] == ["投诉风险"]


def test_violation_summary_follows_open_decided_and_overturned(
    factory: sessionmaker[Session], put: Enqueue
) -> None:
    add_customer(factory, "u1")
    opened(put, 1)
    opened(put, 2)
    deliver_all(factory)
    summary = customer_row(factory, "u1").violation_summary
    assert summary["open"] == 2
    assert summary["violations"]["1"] == {
        "rule_id": "R1", "severity": "high", "status": "open", "conversation_id": "c1",
    }  # fmt: skip
    decided(put, 1, "overturned")
    decided(put, 2, "upheld")
    deliver_all(factory)
    summary = customer_row(factory, "u1").violation_summary
    assert summary == {
        "open": 0,
        "violations": {"2": {"rule_id": "R2", "severity": "high", "status": "upheld",
                             "conversation_id": "c2"}},
    }  # fmt: skip


def test_transfer_sets_the_owner_and_alerts_change_nothing(
    factory: sessionmaker[Session], put: Enqueue
) -> None:
    add_customer(factory, "u1", owner="e1")
    before = customer_row(factory, "u1")
    alert = put("alert.raised", "u1", rule_id="R1", target="supervisor")
    put("customer.transfer_requested", "u1", from_employee="e1", to_employee="e9", violation_id=3)
    deliver_all(factory)
    after = customer_row(factory, "u1")
    assert after.owner_external_id == "e9"
    assert (after.extra, after.violation_summary) == (before.extra, before.violation_summary)
    assert event_row(factory, alert).status == "delivered"


def test_applying_each_event_twice_gives_the_same_record(
    factory: sessionmaker[Session], put: Enqueue
) -> None:
    add_customer(factory, "u1")
    ids = [
        put("tag.added", "u1", tag="vip"), opened(put, 1), opened(put, 2),
        decided(put, 1, "overturned"), decided(put, 2, "confirmed"),
        put("tag.removed", "u1", tag="vip"), put("tag.added", "u1", tag="回访"),
        put("customer.transfer_requested", "u1", from_employee="e1", to_employee="e9"),
    ]  # fmt: skip
    envelopes = [event_row(factory, e).payload for e in ids]
    adapter = LocalAdapter()
    states = []
    for envelope in envelopes:
        for _ in range(2):
            with write_transaction(factory) as db_session:
                adapter.deliver(copy.deepcopy(envelope), db_session=db_session)
            row = customer_row(factory, "u1")
            states.append((row.extra, row.violation_summary, row.owner_external_id))
    assert states[0::2] == states[1::2]
    assert states[-1] == (
        {"crm_tags": ["回访"]},
        {"open": 0, "violations": {"2": {"rule_id": "R2", "severity": "high",
                                         "status": "confirmed", "conversation_id": "c2"}}},
        "e9",
    )  # fmt: skip


def test_an_unknown_customer_is_dead_lettered_with_the_reason(
    factory: sessionmaker[Session], put: Enqueue
) -> None:
    add_customer(factory, "u1")
    event_id = put("tag.added", "ghost", tag="vip")
    assert dispatch_once(factory, SETTINGS).dead == 1
    row = event_row(factory, event_id)
    assert row.last_error == f"local adapter: no customer 'ghost' in tenant '{TENANT}'"


def test_a_malformed_event_is_dead_and_the_customer_unchanged(
    factory: sessionmaker[Session], put: Enqueue
) -> None:
    add_customer(factory, "u1", owner="e1")
    event_id = put("customer.transfer_requested", "u1", from_employee="e1")  # no to_employee
    assert dispatch_once(factory, SETTINGS).dead == 1
    assert event_row(factory, event_id).last_error == (
        "local adapter: customer.transfer_requested without 'to_employee'"
    )
    assert customer_row(factory, "u1").owner_external_id == "e1"
