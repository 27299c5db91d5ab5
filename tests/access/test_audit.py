"""The audit trail: written with the act, hash-chained, append-only in the database itself."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
from factories import RED, bearer, chat
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select, text
from sqlalchemy.exc import DBAPIError

from qc_service.audit.chain import verify
from qc_service.audit.models import AuditEvent
from qc_service.audit.service import record, verify_chain
from qc_service.config import Settings
from qc_service.db.session import write_transaction
from qc_service.pipeline.files import ingest_one
from qc_service.store import Store, open_store


def test_events_chain_and_verify_finds_the_first_changed_one(engine: Engine, db_session) -> None:  # type: ignore[no-untyped-def]
    for i in range(3):
        record(
            db_session,
            tenant_id="default",
            actor="a",
            action=f"act{i}",
            entity_type="x",
            entity_id=i,
        )
    db_session.flush()
    events = list(db_session.scalars(select(AuditEvent).order_by(AuditEvent.id)))
    assert [e.prev_hash for e in events[1:]] == [e.hash for e in events[:-1]]
    assert verify_chain(db_session).intact
    copies = [
        SimpleNamespace(**{c: getattr(e, c) for c in AuditEvent.__table__.columns.keys()})
        for e in events
    ]
    copies[1].reason = "rewritten"
    assert (verify(copies).intact, verify(copies).bad_id) == (False, events[1].id)
    del copies[1]  # a removed event breaks the link of the next one
    assert verify(copies).bad_id == events[2].id


def test_update_and_delete_are_refused_by_the_database(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO audit_events (tenant_id, entity_type, entity_id, action, actor, created_at) "
                          "VALUES ('default', 'x', '1', 'test', 'a', CURRENT_TIMESTAMP)"))  # fmt: skip
    for statement in ("UPDATE audit_events SET actor = 'mallory'", "DELETE FROM audit_events"):
        with pytest.raises(DBAPIError, match="append-only"), engine.begin() as conn:
            conn.execute(text(statement))
    with engine.connect() as conn:
        assert conn.execute(text("SELECT actor FROM audit_events")).scalars().all() == ["a"]


def test_sensitive_acts_are_audited_with_the_authenticated_actor(
    client: TestClient, store: Store
) -> None:
    assert (
        ingest_one(store, chat("c1", "e1", "销售一组", "u1", RED), final=True).conversation_status
        == "analysed"
    )
    vid = client.get("/v1/violations").json()["items"][0]["id"]
    agent, reviewer = (
        bearer(store, "agent", username="zhang"),
        bearer(store, "reviewer", username="qa-li"),
    )
    assert (
        client.post(
            f"/v1/violations/{vid}/appeal", json={"reason": "客户要求的"}, headers=agent
        ).status_code
        == 200
    )
    assert (
        client.post(
            f"/v1/violations/{vid}/decision",
            json={"decision": "overturn", "reason_code": "machine_error"},
            headers=reviewer,
        ).status_code
        == 200
    )
    assert client.post("/v1/rules/redline.red-packet/disable").status_code == 200
    assert client.get("/v1/rules/export").status_code == 200
    events = client.get("/v1/audit", params={"limit": 500}).json()["items"]
    acts = {(e["actor"], e["action"]) for e in events}
    assert {("zhang", "status.appealed"), ("qa-li", "status.overturned"), ("test-admin", "disabled"),
            ("test-admin", "export"), ("tests", "token.created")} <= acts  # fmt: skip
    only = client.get("/v1/audit", params={"actor": "qa-li"}).json()["items"]
    assert {e["actor"] for e in only} == {"qa-li"}
    assert client.get("/v1/audit", headers=reviewer).status_code == 403


def test_qc_audit_verify_exits_1_naming_the_event_someone_edited(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'qc.db'}"
    store = open_store(Settings(database_url=url))
    with write_transaction(store.session_factory) as db:
        for i in range(4):
            record(
                db, tenant_id="default", actor="a", action=f"act{i}", entity_type="x", entity_id=i
            )
    env = {**os.environ, "QC_DATABASE_URL": url}
    cmd = [sys.executable, "-m", "qc_service.cli.main", "audit", "verify"]
    ok = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
    assert (ok.returncode, ok.stdout.strip()) == (0, "4 events, chain intact")
    with store.engine.begin() as conn:  # an attacker with the database drops the trigger first
        conn.execute(text("DROP TRIGGER audit_events_no_update"))
        bad = conn.execute(text("SELECT id FROM audit_events ORDER BY id")).scalars().all()[2]
        conn.execute(text("UPDATE audit_events SET actor = 'mallory' WHERE id = :i"), {"i": bad})
    store.close()
    broken = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
    assert broken.returncode == 1
    assert f"event {bad}" in broken.stdout


def test_an_act_whose_event_cannot_be_written_does_not_happen(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Fail closed: the event is in the act's transaction, so a failing audit write undoes it."""
    from qc_service.audit import models as audit_models
    from qc_service.rulesets import authoring

    def broken(_prev: str, _event: object) -> str:
        raise OSError("audit storage unavailable")

    monkeypatch.setattr(audit_models, "event_hash", broken)
    with pytest.raises(OSError), write_transaction(store.session_factory) as db:
        authoring.set_enabled(db_session=db, tenant_id="default", rule_id="redline.red-packet",
                              enabled=False, actor="admin")  # fmt: skip
    monkeypatch.undo()
    with store.session_factory() as db:
        rule = authoring.get_rule_or_raise(
            db_session=db, tenant_id="default", rule_id="redline.red-packet"
        )
        assert rule.enabled


def test_events_written_before_the_chain_existed_are_chained_by_the_migration(db_url: str) -> None:
    from alembic import command

    from qc_service.db.migrate import alembic_config, upgrade_to_head
    from qc_service.db.session import make_engine, make_session_factory

    engine = make_engine(db_url)
    try:
        with engine.begin() as connection:
            command.upgrade(alembic_config(connection), "0005")
            for i in range(3):
                connection.execute(text(
                    "INSERT INTO audit_events (tenant_id, entity_type, entity_id, action, actor, before, after, created_at) "
                    "VALUES ('default', 'rule', :i, 'published', 'admin', NULL, :after, CURRENT_TIMESTAMP)"
                ), {"i": str(i), "after": '{"version": 1, "source": "api"}'})  # fmt: skip
        upgrade_to_head(engine)
        with make_session_factory(engine)() as db:
            report = verify_chain(db)
            assert (report.intact, report.count) == (True, 3)
            record(db, tenant_id="default", actor="a", action="after", entity_type="x", entity_id=1)
            db.commit()
            assert verify_chain(db).count == 4 and verify_chain(db).intact
    finally:
        engine.dispose()
