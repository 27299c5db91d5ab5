"""Retention: conversations past QC_RETENTION_DAYS go, open appeals stay, tags stay and say why."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

from factories import RED, bearer, chat
from fastapi.testclient import TestClient
from sqlalchemy import update

from qc_service.config import Settings
from qc_service.conversations.models import Conversation
from qc_service.db.base import utcnow
from qc_service.main import create_app
from qc_service.pipeline.files import ingest_one
from qc_service.store import Store, open_store


def _age(store: Store, cid: str, days: int) -> None:
    with store.session_factory() as s, s.begin():
        old = utcnow() - timedelta(days=days)
        s.execute(update(Conversation).where(Conversation.external_id == cid)
                  .values(last_message_at=old, started_at=old, created_at=old))  # fmt: skip


def test_purge_keeps_open_appeals_and_tags_and_audits_the_counts(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'qc.db'}"
    store = open_store(Settings(database_url=url, sweep_interval_seconds=3600))
    for cid, customer in (("old-1", "u1"), ("old-appealed", "u2"), ("new-1", "u3")):
        assert (
            ingest_one(store, chat(cid, "e1", "销售一组", customer, RED), final=True).status
            == "accepted"
        )
    with TestClient(create_app(store.settings, store=store)) as client:
        admin = bearer(store, "admin")
        vid = client.get(
            "/v1/violations", params={"conversation": "old-appealed"}, headers=admin
        ).json()["items"][0]["id"]
        r = client.post(
            f"/v1/violations/{vid}/appeal", json={"reason": "x"}, headers=bearer(store, "agent")
        )
        assert r.status_code == 200
    _age(store, "old-1", 400)
    _age(store, "old-appealed", 400)
    store.close()
    env = {**os.environ, "QC_DATABASE_URL": url, "QC_RETENTION_DAYS": "365"}
    cmd = [sys.executable, "-m", "qc_service.cli.main", "retention", "purge"]
    dry = subprocess.run([*cmd, "--dry-run"], env=env, capture_output=True, text=True, timeout=120)
    assert dry.returncode == 0 and "would delete 1 conversations" in dry.stdout, (
        dry.stdout + dry.stderr
    )
    real = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
    assert (
        real.returncode == 0
        and "deleted 1 conversations" in real.stdout
        and "kept 1 with an open appeal" in real.stdout
    )
    store = open_store(Settings(database_url=url, sweep_interval_seconds=3600))
    with TestClient(create_app(store.settings, store=store)) as client:
        admin = bearer(store, "admin", username="admin-after")
        assert client.get("/v1/conversations/old-1", headers=admin).status_code == 404
        assert client.get("/v1/conversations/old-appealed", headers=admin).status_code == 200
        assert client.get("/v1/conversations/new-1", headers=admin).status_code == 200
        tags = client.get("/v1/customers/u1/tags", headers=admin).json()
        assert tags and all(
            e.get("purged") == "已按保留期删除" for t in tags for e in t["evidence"]
        )
        events = client.get(
            "/v1/audit", params={"action": "retention.purge"}, headers=admin
        ).json()["items"]
        assert sorted((e["after"]["dry_run"], e["after"]["conversations"]) for e in events) == [
            (False, 1),
            (True, 1),
        ]
        assert events[0]["actor"].startswith("cli:")
    store.close()
    off = subprocess.run(
        cmd, env={**env, "QC_RETENTION_DAYS": ""}, capture_output=True, text=True, timeout=120
    )
    assert off.returncode == 0 and "nothing to purge" in off.stdout


def test_a_recording_a_kept_conversation_still_uses_is_not_deleted(
    store: Store, tmp_path: Path
) -> None:
    from qc_service.db.session import write_transaction
    from qc_service.retention.service import purge

    data = tmp_path / "data"
    (data / "default").mkdir(parents=True)
    shared, own = data / "default" / "shared.wav", data / "default" / "own.wav"
    for path in (shared, own):
        path.write_bytes(b"RIFF")
    calls = (
        ("old-a", "default/shared.wav"),
        ("old-b", "default/own.wav"),
        ("new", "default/shared.wav"),
    )
    for cid, audio in calls:
        rec = {
            **chat(cid, "e1", "销售一组", "u1", "您好"),
            "channel": "call",
            "call": {"audio": audio},
        }
        assert ingest_one(store, rec, final=True).status == "accepted"
    _age(store, "old-a", 400)
    _age(store, "old-b", 400)
    for dry_run in (True, False):
        with write_transaction(store.session_factory) as db:
            report = purge(db, days=365, data_dir=data, dry_run=dry_run, actor="tests")
        report.delete_files()
        assert (report.conversations, report.files) == (2, [own])
    assert shared.exists() and not own.exists()
