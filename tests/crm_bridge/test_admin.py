"""Operating the outbox: list, retry, replay, as functions and as ``qc outbox`` commands."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from bridge_helpers import Enqueue, bridge_settings, event_row
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from crm_bridge.adapters import AdapterPool
from crm_bridge.adapters.recording import RecordingAdapter
from crm_bridge.cli import outbox_app
from crm_bridge.dispatcher import dispatch_once
from crm_bridge.outbox import admin
from qc_service.config import get_settings

SETTINGS = bridge_settings(crm_adapter="recording", outbox_max_attempts=2)


def settle(factory: sessionmaker[Session], put: Enqueue) -> dict[str, str]:
    """One delivered, one failed (1 of 2 attempts), one dead event."""
    ids = {s: put("tag.added", s, tag="t") for s in ("delivered", "failed", "dead")}
    recording = RecordingAdapter()
    recording.fail_when = lambda e: {ids["failed"]: "retryable", ids["dead"]: "permanent"}.get(
        e["id"]
    )
    dispatch_once(
        factory, SETTINGS, adapters=AdapterPool(SETTINGS, instances={"recording": recording})
    )
    assert {s: event_row(factory, e).status for s, e in ids.items()} == {s: s for s in ids}
    return ids


def test_list_filters_by_status_newest_first(factory: sessionmaker[Session], put: Enqueue) -> None:
    ids = settle(factory, put)
    assert [r.event_id for r in admin.list_events(factory)] == list(reversed(ids.values()))
    assert [r.event_id for r in admin.list_events(factory, status="dead")] == [ids["dead"]]
    assert len(admin.list_events(factory, limit=2)) == 2
    with pytest.raises(ValueError, match="unknown outbox status"):
        admin.list_events(factory, status="lost")


def test_retry_makes_one_event_due_by_pk_or_event_id(
    factory: sessionmaker[Session], put: Enqueue
) -> None:
    ids = settle(factory, put)
    dead = admin.retry(factory, ids["dead"])
    assert (dead.status, dead.attempts) == ("pending", 0)
    failed_pk = event_row(factory, ids["failed"]).id
    failed = admin.retry(factory, failed_pk)
    assert (failed.status, failed.attempts) == ("pending", 1)
    report = dispatch_once(factory, SETTINGS)
    assert sorted(a.event_id for a in report.attempts if a.status == "delivered") == sorted(
        [ids["dead"], ids["failed"]]
    )
    with pytest.raises(admin.NotRetryable):
        admin.retry(factory, ids["delivered"])
    with pytest.raises(admin.EventNotFound):
        admin.retry(factory, "0" * 32)
    with pytest.raises(admin.EventNotFound):
        admin.retry(factory, 999_999)


def test_replay_resets_every_dead_event(factory: sessionmaker[Session], put: Enqueue) -> None:
    ids = settle(factory, put)
    assert admin.replay(factory) == 1
    row = event_row(factory, ids["dead"])
    assert (row.status, row.attempts, row.last_error) == (
        "pending", 0, f"recording adapter: scripted refusal of {ids['dead']}",
    )  # fmt: skip
    assert admin.replay(factory) == 0
    with pytest.raises(admin.NotRetryable):
        admin.replay(factory, status="delivered")


@pytest.fixture
def cli_env(
    db_url: str, factory: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> Iterator[None]:
    """``qc outbox`` reads QC_DATABASE_URL through the cached ``get_settings()``."""
    monkeypatch.setenv("QC_DATABASE_URL", db_url)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.mark.usefixtures("cli_env")
def test_the_cli_lists_retries_and_replays(factory: sessionmaker[Session], put: Enqueue) -> None:
    ids = settle(factory, put)
    runner = CliRunner()
    listed = runner.invoke(outbox_app, ["list", "--status", "dead"])
    assert listed.exit_code == 0, listed.output
    assert "dead" in listed.output and str(event_row(factory, ids["dead"]).id) in listed.output
    retried = runner.invoke(outbox_app, ["retry", ids["failed"]])
    assert retried.exit_code == 0, retried.output
    assert f"({ids['failed']}) is pending, due now" in retried.output
    missing = runner.invoke(outbox_app, ["retry", "424242"])
    assert missing.exit_code == 1 and "no outbox event '424242'" in missing.output
    replayed = runner.invoke(outbox_app, ["replay"])
    assert replayed.exit_code == 0 and "1 dead outbox event(s) pending again" in replayed.output
    assert {event_row(factory, ids[s]).status for s in ("failed", "dead")} == {"pending"}
