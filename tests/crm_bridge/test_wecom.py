"""The ``wecom`` adapter against a WeCom contract server (``wecom_server.py``, written from
WECOM.md by someone who had not seen the adapter): every row of WECOM.md's error table, the
catalogue, one call per exclusive-group swap, skipped events, and effects counted at the far end."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from bridge_helpers import Enqueue, add_customer, bridge_settings, event_row
from sqlalchemy.orm import Session, sessionmaker
from wecom_server import WeComContractServer, serve

from crm_bridge.adapters import AdapterPool
from crm_bridge.dispatcher import dispatch_once
from crm_bridge.settings import BridgeSettings
from qc_service.db.base import utcnow

MARK = "/cgi-bin/externalcontact/mark_tag"


@pytest.fixture
def wecom() -> Iterator[tuple[WeComContractServer, str]]:
    state = WeComContractServer(corpid="corp-1", secret="s3cr3t-value", stall_seconds=3)
    state.add_contact("u1", "e1")
    state.add_contact("u2", "e1")
    with serve(state) as url:
        yield state, url


@pytest.fixture
def settings(wecom: tuple[WeComContractServer, str]) -> BridgeSettings:
    return bridge_settings(crm_adapter="wecom", wecom_base_url=wecom[1], wecom_corp_id="corp-1",
                           wecom_secret="s3cr3t-value", wecom_timeout_seconds=1.0)  # fmt: skip


@pytest.fixture
def run(factory: sessionmaker[Session], settings: BridgeSettings) -> Iterator[Any]:
    """``run(later_seconds=0)``: dispatch passes until nothing is due (one adapter, one budget)."""
    pool = AdapterPool(settings)
    add_customer(factory, "u1", owner="e1")
    add_customer(factory, "u2", owner="e1")

    def _run(later: float = 0) -> list[Any]:
        out = []
        when = utcnow() + timedelta(seconds=later)
        while attempts := dispatch_once(factory, settings, now=when, adapters=pool).attempts:
            out += attempts
        return out

    yield _run
    pool.close()


def marks(state: WeComContractServer) -> list[dict[str, Any]]:
    return [e for e in state.effects if e["kind"] == "mark_tag"]


def test_tags_land_on_the_owners_relation_created_once_in_our_group(
    wecom: tuple[WeComContractServer, str], run: Any, put: Enqueue
) -> None:
    state, _ = wecom
    state.add_foreign_tag("别的应用", "VIP")  # another app's tag of the same name: never ours
    put("tag.added", "u1", tag="VIP")
    put("tag.added", "u2", tag="VIP")
    run()
    assert state.relation_tags("e1", "u1") == state.relation_tags("e1", "u2") == {"VIP"}
    ours = state.tag_id("VIP", "智能标签")
    assert ours in state.created_by_app and [m["add"] for m in marks(state)] == [[ours], [ours]]
    adds = [c for c in state.calls if c[0].endswith("add_corp_tag")]
    assert len(adds) == 1  # the catalogue is cached


def test_an_exclusive_swap_is_one_mark_tag_call(
    wecom: tuple[WeComContractServer, str], run: Any, put: Enqueue, factory: sessionmaker[Session]
) -> None:
    state, _ = wecom
    put("tag.added", "u1", tag="小学")
    run()
    swap = [put("tag.added", "u1", tag="初中"), put("tag.removed", "u1", tag="小学")]
    run()
    assert state.relation_tags("e1", "u1") == {"初中"}
    last = marks(state)[-1]
    assert (last["add"], last["remove"]) == (
        [state.tag_id("初中")],
        [state.tag_id("小学")] or last["remove"],
    )
    assert len(marks(state)) == 2  # the first add, then the swap in one call
    assert {event_row(factory, e).status for e in swap} == {"delivered"}


def test_a_45009_storm_drains_later_with_one_effect(
    wecom: tuple[WeComContractServer, str], run: Any, put: Enqueue, factory: sessionmaker[Session]
) -> None:
    state, _ = wecom
    state.script("mark_tag", 45009, 45009, 45009)
    event = put("tag.added", "u1", tag="VIP")
    run()
    row = event_row(factory, event)
    assert row.status == "failed" and (row.last_error or "").startswith("errcode 45009")
    assert row.next_attempt_at is not None and row.next_attempt_at >= utcnow() + timedelta(
        seconds=55
    )
    run(later=120)
    run(later=400)
    run(later=1000)
    assert event_row(factory, event).status == "delivered" and len(marks(state)) == 1


@pytest.mark.parametrize("failure", [45033, -1, 6000, ("http", 503)])
def test_retry_later_errors_are_retried_then_delivered_once(
    wecom: tuple[WeComContractServer, str], run: Any, put: Enqueue, factory: sessionmaker[Session],
    failure: Any,
) -> None:  # fmt: skip
    state, _ = wecom
    state.script("mark_tag", failure)
    event = put("tag.added", "u1", tag="VIP")
    assert [a.status for a in run()] == ["failed", "delivered"]  # retried (back-off 0 in tests)
    assert event_row(factory, event).status == "delivered" and len(marks(state)) == 1


def test_a_tag_deleted_in_the_console_is_recreated_and_the_call_repeated_once(
    wecom: tuple[WeComContractServer, str], run: Any, put: Enqueue, factory: sessionmaker[Session]
) -> None:
    state, _ = wecom
    put("tag.added", "u1", tag="VIP")
    run()
    state.delete_tag("VIP")
    event = put("tag.added", "u2", tag="VIP")
    run()
    assert event_row(factory, event).status == "delivered"
    assert state.relation_tags("e1", "u2") == {"VIP"} and len(marks(state)) == 2


@pytest.mark.parametrize(
    ("customer", "owner", "code"), [("u9", "e1", 84061), ("u1", "e404", 40003)]
)
def test_bad_customer_or_employee_dead_letters_at_once_with_the_errcode(
    wecom: tuple[WeComContractServer, str], run: Any, put: Enqueue, factory: sessionmaker[Session],
    customer: str, owner: str, code: int,
) -> None:  # fmt: skip
    state, _ = wecom
    add_customer(factory, customer, owner=owner) if customer == "u9" else None
    event = put("tag.added", customer, tag="VIP", employee_id=owner)
    later = put("tag.added", "u2", tag="B")
    run()
    row = event_row(factory, event)
    assert (row.status, row.attempts) == ("dead", 1) and (row.last_error or "").startswith(
        f"errcode {code}"
    )
    assert event_row(factory, later).status == "delivered"


def test_a_transfer_moves_the_customer_and_40096_dead_letters(
    wecom: tuple[WeComContractServer, str], run: Any, put: Enqueue, factory: sessionmaker[Session]
) -> None:
    state, _ = wecom
    state.add_employee("e2")
    ok = put("customer.transfer_requested", "u1", from_employee="e1", to_employee="e2")
    bad = put("customer.transfer_requested", "nobody", from_employee="e1", to_employee="e2")
    run()
    assert event_row(factory, ok).status == "delivered" and state.owner_of("u1") == "e2"
    row = event_row(factory, bad)
    assert row.status == "dead" and (row.last_error or "").startswith("errcode 40096")
    assert [e["kind"] for e in state.effects] == ["transfer"]


def test_an_expired_token_is_refreshed_once_and_the_secret_never_shows(
    wecom: tuple[WeComContractServer, str], run: Any, put: Enqueue, factory: sessionmaker[Session],
    caplog: pytest.LogCaptureFixture,
) -> None:  # fmt: skip
    state, _ = wecom
    caplog.set_level(logging.DEBUG)
    put("tag.added", "u1", tag="A")
    run()
    state.expire_tokens()
    event = put("tag.added", "u1", tag="B")
    state.script("mark_tag", ("http", 503))
    run()
    run(later=1)
    assert event_row(factory, event).status == "delivered" and state.token_calls == 2
    assert (
        "s3cr3t-value" not in caplog.text and "corpsecret=***" in caplog.text
    )  # httpx logged the URL
    assert all("s3cr3t-value" not in (event_row(factory, e).last_error or "") for e in [event])


def test_events_with_no_wecom_call_are_skipped_and_block_nothing(
    wecom: tuple[WeComContractServer, str], run: Any, put: Enqueue, factory: sessionmaker[Session]
) -> None:
    skipped = put("violation.opened", "u1", violation_id=1, rule_id="R1")
    tagged = put("tag.added", "u1", tag="A")
    run()
    row = event_row(factory, skipped)
    assert row.status == "skipped" and "violation.opened" in (row.last_error or "")
    assert event_row(factory, tagged).status == "delivered"


def test_a_lost_response_is_retried_and_wecom_holds_the_tag_once(
    wecom: tuple[WeComContractServer, str], run: Any, put: Enqueue, factory: sessionmaker[Session]
) -> None:
    state, _ = wecom
    state.script("mark_tag", ("apply_then_drop", None))
    event = put("tag.added", "u1", tag="VIP")
    attempts = run()  # the first timed out after WeCom applied it
    assert [a.status for a in attempts] == ["failed", "delivered"] and "timeout" in (
        attempts[0].error or ""
    )
    assert event_row(factory, event).status == "delivered"
    assert state.relation_tags("e1", "u1") == {"VIP"}  # mark_tag is a set: applied once in effect


def test_the_client_budget_paces_calls_without_counting_attempts(
    wecom: tuple[WeComContractServer, str], put: Enqueue, factory: sessionmaker[Session],
    settings: BridgeSettings,
) -> None:  # fmt: skip
    tight = settings.model_copy(update={"wecom_calls_per_min": 4, "wecom_budget_wait_seconds": 0})
    add_customer(factory, "u1", owner="e1")
    add_customer(factory, "u2", owner="e1")
    events = [put("tag.added", "u1", tag="A"), put("tag.added", "u2", tag="B")]
    pool = AdapterPool(tight)
    try:
        dispatch_once(factory, tight, adapters=pool)  # token, list, add A, mark: 4 calls
    finally:
        pool.close()
    waiting = event_row(factory, events[1])
    assert event_row(factory, events[0]).status == "delivered"
    assert (waiting.status, waiting.attempts) == ("pending", 0)
    assert waiting.next_attempt_at is not None and waiting.next_attempt_at > utcnow()
