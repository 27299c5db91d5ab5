"""Learning from appeals, end to end on SQLite and PostgreSQL: reviewer verdicts train a versioned
feedback model that ranks the review queue by overturn risk, retraining on the same verdicts
writes nothing, too little data keeps the queue's order and says why, and each rule's live
precision comes with a Wilson interval."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from factories import bearer
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from qc_service.config import Settings
from qc_service.conversations.models import Conversation
from qc_service.db.session import write_transaction
from qc_service.errors import NotFound
from qc_service.main import create_app
from qc_service.pipeline.files import ingest_one
from qc_service.review.feedback import TrainResult, train_feedback
from qc_service.review.models import FeedbackModelVersion, Violation
from qc_service.rules.backtest import wilson_interval
from qc_service.store import Store, open_store

# (customer message, agent message) → the rule it trips. Reviewers overturn "自己看" when the
# agent points the customer to a document, and uphold the brush-off and the red packet.
POINTER = [("保修条款在哪里能看到？", "在合同第三页，您可以自己看一下，有疑问随时问我"),
           ("发票开了吗？", "电子发票已发到您邮箱，方便时自己看一下哈")]  # fmt: skip
BRUSH_OFF = [("到底几号发货？", "我说过了，你听不懂吗"), ("怎么退款？", "说了多少遍了，自己看")]
LURE = [("能便宜点吗？", "加我给您发个红包，好评再返现")]


def _finding(store: Store, rid: str, turn: tuple[str, str], agent: str = "e1") -> int:
    """Ingest a two-message chat; the id of the one violation it gets."""
    rec = {"id": rid, "channel": "wecom", "employee": {"id": agent, "team": "销售一组"}, "customer": {"id": f"u-{rid}"},
           "messages": [{"id": "m1", "role": "customer", "text": turn[0]}, {"id": "m2", "role": "agent", "text": turn[1]}]}  # fmt: skip
    assert ingest_one(store, rec, final=True).conversation_status == "analysed"
    with store.session_factory() as s:
        q = select(Violation.id).join(Conversation).where(Conversation.external_id == rid)
        return s.scalars(q).one()


def _decide(client: TestClient, vid: int, decision: str, appeal: bool = False) -> None:
    if appeal:
        r = client.post(
            f"/v1/violations/{vid}/appeal",
            json={"reason": "上下文不是这个意思"},
            headers=bearer(client.app.state.store, "agent", employee_id="e1", username="e1"),
        )
        assert r.status_code == 200, r.json()
    r = client.post(
        f"/v1/violations/{vid}/decision",
        json={
            "decision": decision,
            "reason_code": "machine_error" if decision == "overturn" else None,
        },
        headers=bearer(client.app.state.store, "reviewer", username="qa1"),
    )
    assert r.status_code == 200, r.json()


def _seed_history(client: TestClient, store: Store) -> None:
    """36 verdicts: pointers mostly overturned (10/12), brush-offs and lures upheld (23/24)."""
    for i in range(12):
        _decide(
            client,
            _finding(store, f"p{i}", POINTER[i % 2]),
            "overturn" if i % 6 else "uphold",
            appeal=i % 3 == 0,
        )
        _decide(client, _finding(store, f"b{i}", BRUSH_OFF[i % 2]), "uphold", appeal=i % 4 == 0)
        _decide(client, _finding(store, f"l{i}", LURE[0]), "overturn" if i == 5 else "uphold")


def _train(store: Store, tenant: str = "default") -> TrainResult:
    with write_transaction(store.session_factory) as db:
        return train_feedback(db_session=db, tenant_id=tenant)


def _versions(store: Store) -> list[tuple[int, str]]:
    with store.session_factory() as s:
        q = select(FeedbackModelVersion.version, FeedbackModelVersion.status)
        return [(v, st) for v, st in s.execute(q.order_by(FeedbackModelVersion.version))]


def _queue(client: TestClient, **params: object) -> dict:  # type: ignore[type-arg]
    r = client.get("/v1/violations", params={"order": "overturn_risk", "limit": 500, **params})
    assert r.status_code == 200, r.json()
    return r.json()


def test_verdicts_train_a_versioned_model_that_ranks_overturn_prone_findings_first(
    client: TestClient, store: Store
) -> None:
    _seed_history(client, store)
    pointers = [_finding(store, f"q-p{i}", POINTER[i % 2]) for i in range(3)]  # older …
    others = [_finding(store, f"q-o{i}", (BRUSH_OFF + LURE)[i]) for i in range(3)]  # … newer
    r = client.post(
        f"/v1/violations/{pointers[0]}/appeal",
        json={"reason": "只是让客户看合同"},
        headers=bearer(store, "agent", employee_id="e1"),
    )
    assert r.status_code == 200

    off = _queue(client)
    assert off["ranking"] == {"order": "newest", "model_version": None,
                              "reason": "no feedback model has been trained for this tenant yet (run `qc train feedback`)"}  # fmt: skip
    assert [v["id"] for v in off["items"]][:6] == sorted(pointers + others, reverse=True)
    assert {v["overturn_risk"] for v in off["items"]} == {None}

    first = _train(store)
    assert (first.outcome, first.version, first.status, first.n_verdicts) == (
        "trained",
        1,
        "active",
        36,
    )
    assert first.metrics["overturned"] == 11 and first.metrics["n_test"] == 9
    again = _train(store)
    assert (again.outcome, again.version) == ("unchanged", 1)
    assert _versions(store) == [(1, "active")]  # retraining on the same verdicts wrote nothing

    ranked = _queue(client)
    assert ranked["ranking"] == {"order": "overturn_risk", "model_version": 1, "reason": None}
    pending = ranked["items"][:6]
    assert {v["id"] for v in pending[:3]} == set(pointers)  # the likely overturns come first
    assert {v["id"] for v in pending[3:]} == set(others)
    risks = [v["overturn_risk"] for v in pending]
    assert risks == sorted(risks, reverse=True) and risks[2] > 0.5 > risks[3]
    decided = ranked["items"][6:]
    assert len(decided) == 36 and {v["overturn_risk"] for v in decided} == {None}
    assert [v["id"] for v in decided] == sorted((v["id"] for v in decided), reverse=True)
    assert ranked["total"] == 42

    page1 = _queue(client, limit=4)
    page2 = _queue(client, limit=4, cursor=page1["next"])
    assert [v["id"] for v in page1["items"] + page2["items"]] == [
        v["id"] for v in ranked["items"][:8]
    ]
    only_open = _queue(client, status="open")
    assert only_open["total"] == 5 and pointers[0] not in {v["id"] for v in only_open["items"]}
    assert client.get("/v1/violations").json()["ranking"] is None  # the default order is unchanged

    _decide(client, pointers[0], "overturn")
    second = _train(store)
    assert (second.outcome, second.version, second.n_verdicts) == ("trained", 2, 37)
    assert _versions(store) == [(1, "active"), (2, "active")]
    assert _queue(client)["ranking"]["model_version"] == 2


def test_too_little_data_stays_off_and_says_why(client: TestClient, store: Store) -> None:
    for i in range(4):
        _decide(client, _finding(store, f"p{i}", POINTER[0]), "overturn" if i < 1 else "uphold")
    first = _train(store)
    reason = "too little data: 4 decided verdicts (needs at least 30); 1 overturned (needs at least 5); 3 upheld (needs at least 5)"
    assert (first.outcome, first.version, first.status, first.reason) == (
        "insufficient",
        1,
        "insufficient",
        reason,
    )
    assert _train(store).outcome == "unchanged"
    assert _versions(store) == [(1, "insufficient")]

    newest = [_finding(store, f"n{i}", BRUSH_OFF[0]) for i in range(2)]
    queue = _queue(client)
    assert queue["ranking"] == {"order": "newest", "model_version": 1,
                                "reason": f"feedback model version 1 is off: {reason}"}  # fmt: skip
    assert [v["id"] for v in queue["items"]][:2] == newest[::-1]
    assert {v["overturn_risk"] for v in queue["items"]} == {None}
    with pytest.raises(NotFound, match="tenant nope not found"):
        _train(store, "nope")


def test_live_precision_per_rule_with_wilson_interval(client: TestClient, store: Store) -> None:
    ids = [_finding(store, f"l{i}", LURE[0]) for i in range(13)]
    for n, vid in enumerate(ids[:10]):
        _decide(client, vid, "overturn" if n < 2 else "uphold", appeal=n % 2 == 0)
    for vid in ids[10:12]:
        assert client.post(f"/v1/violations/{vid}/confirm", json={}).status_code == 200
    _finding(store, "b0", BRUSH_OFF[0])

    body = client.get("/v1/review/precision").json()
    assert body["total"] == 2
    lure, brush = body["items"]
    assert lure["rule_id"] == "redline.red-packet" and brush["rule_id"] == "service.impatient"
    counts = {
        k: lure[k] for k in ("findings", "open", "appealed", "upheld", "overturned", "confirmed")
    }
    assert counts == {
        "findings": 13,
        "open": 1,
        "appealed": 0,
        "upheld": 8,
        "overturned": 2,
        "confirmed": 2,
    }
    # 8 upheld of 10 decided: the textbook Wilson 95 % interval is 0.490 … 0.943
    assert lure["reviewed"] == {"estimate": 0.8, "low": 0.49, "high": 0.943, "judged": 10}
    low, high = wilson_interval(10, 12) or (-1, -1)
    assert lure["with_confirmed"] == {
        "estimate": 0.833,
        "low": round(low, 3),
        "high": round(high, 3),
        "judged": 12,
    }
    assert (brush["findings"], brush["reviewed"], brush["with_confirmed"]) == (1, None, None)
    only = client.get("/v1/review/precision", params={"rule": "service.impatient"}).json()
    assert [i["rule_id"] for i in only["items"]] == ["service.impatient"]
    spec = client.get("/openapi.json").json()
    assert spec["paths"]["/v1/review/precision"]["get"]["operationId"] == "rule_precision"


@pytest.mark.slow
def test_qc_train_feedback_prints_the_version_then_unchanged(tmp_path: Path) -> None:
    db_url = f"sqlite:///{tmp_path / 'qc.db'}"
    store = open_store(Settings(database_url=db_url, sweep_interval_seconds=3600))
    try:
        with TestClient(create_app(store.settings, store=store)) as client:
            client.headers.update(bearer(store))
            _seed_history(client, store)
    finally:
        store.close()
    env = {**os.environ, "QC_DATABASE_URL": db_url}
    cmd = [sys.executable, "-m", "qc_service.cli.main", "train", "feedback"]
    first = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=120)
    assert first.returncode == 0, first.stderr
    assert (
        "default: version 1 trained on 36 verdicts (11 overturned); held out the newest 9: AUC"
        in first.stdout
    )
    again = subprocess.run(
        [*cmd, "--tenant", "default"], capture_output=True, text=True, env=env, timeout=120
    )
    assert again.returncode == 0, again.stderr
    assert again.stdout.strip() == "default: unchanged, version 1 (active; no new verdicts since)"
    reopened = open_store(Settings(database_url=db_url), migrate=False)
    try:
        with reopened.session_factory() as s:
            assert s.scalar(select(func.count()).select_from(FeedbackModelVersion)) == 1
    finally:
        reopened.close()
