"""A dispatcher process killed -9 mid-batch loses nothing; only the in-flight event repeats."""

from __future__ import annotations

import os
import subprocess
import sys
from collections import defaultdict
from datetime import UTC, timedelta
from pathlib import Path

from bridge_helpers import SECRET, Enqueue, event_row
from crm_receiver import HANG, OK, Receiver
from sqlalchemy.orm import Session, sessionmaker

from crm_bridge.dispatcher import dispatch_once
from crm_bridge.settings import BridgeSettings


def test_kill_9_mid_batch_then_redispatch_delivers_everything(
    db_url: str, factory: sessionmaker[Session], webhook_settings: BridgeSettings,
    receiver: Receiver, put: Enqueue, tmp_path: Path,
) -> None:  # fmt: skip
    written = [
        put("violation.opened", f"u{i % 2}", violation_id=i, rule_id="R1") for i in range(10)
    ]
    receiver.delay = 0.05
    receiver.script(OK, OK, OK, HANG)  # the 4th call is in flight when the process dies
    env = {
        **os.environ,
        "QC_DATABASE_URL": db_url,
        "QC_CRM_ADAPTER": "webhook",
        "QC_WEBHOOK_URL": receiver.url,
        "QC_WEBHOOK_SECRET": SECRET,
        "QC_WEBHOOK_TIMEOUT_SECONDS": "60",
    }
    log_path = tmp_path / "dispatcher.log"
    with log_path.open("w") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "crm_bridge.dispatcher", "--once"],
            env=env, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        try:
            receiver.wait_for(4, timeout=30)
        finally:
            proc.kill()
            proc.wait(10)
    assert proc.returncode == -9, log_path.read_text()
    receiver.release()

    statuses = [event_row(factory, e).status for e in written]
    assert statuses == ["delivered"] * 3 + ["pending"] * 7, log_path.read_text()
    killed = event_row(factory, written[3])
    assert killed.attempts == 1 and killed.last_error is None  # claimed; no outcome recorded
    assert killed.next_attempt_at is not None
    now = dispatch_once(factory, webhook_settings)  # the other customer's events go on
    assert now.delivered and written[3] not in [a.event_id for a in now.attempts]

    after = killed.next_attempt_at.replace(tzinfo=UTC) + timedelta(seconds=1)  # the claim ran out
    while dispatch_once(factory, webhook_settings, now=after).attempts:
        pass
    assert {event_row(factory, e).status for e in written} == {"delivered"}
    keys_by_event: dict[str, list[str]] = defaultdict(list)
    for request in receiver.requests:
        keys_by_event[request.event["id"]].append(request.key)
    assert set(keys_by_event) == set(written)
    twice = {e for e, keys in keys_by_event.items() if len(keys) > 1}
    assert twice == {written[3]}
    assert all(keys == [event_id] * len(keys) for event_id, keys in keys_by_event.items())
