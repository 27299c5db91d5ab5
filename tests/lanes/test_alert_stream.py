"""An agent's client on the SSE stream receives the alert for an evaded red line, with evidence,
and a segment's ``notify`` when their customer enters it."""

from __future__ import annotations

import json
import threading
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
from factories import bearer
from servers import api_server, read_sse_event

from qc_service.config import Settings
from qc_service.db.base import utcnow
from qc_service.db.session import write_transaction
from qc_service.rulesets.service import publish
from qc_service.store import open_store
from tests.segments.world import World


def test_agent_client_receives_the_alert_with_its_evidence(tmp_path: Path) -> None:
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'qc.db'}", sweep_interval_seconds=3600)
    store = open_store(settings)
    tokens = {who: bearer(store, "agent", employee_id=who) for who in ("e7", "e8")}
    integration = bearer(store, "integration")
    store.close()
    with (
        api_server(settings) as base,
        httpx.Client(base_url=base, timeout=10, headers=integration) as http,
    ):
        record = {"id": "chat-7", "channel": "wecom", "employee": {"id": "e7", "team": "销售二组"},
                  "customer": {"id": "u7"}, "messages": [{"id": "m1", "role": "customer", "text": "课程怎么收费"}]}  # fmt: skip
        assert http.post("/v1/conversations", json={"records": [record]}).status_code == 200
        received: list[dict[str, Any]] = []
        connected = threading.Event()

        def listen(employee: str, out: list[dict[str, Any]]) -> None:
            try:
                with http.stream(
                    "GET",
                    "/v1/alerts/stream",
                    params={"employee": employee},
                    headers=tokens[employee],
                ) as response:
                    assert response.headers["content-type"].startswith("text/event-stream")
                    connected.set()
                    event = read_sse_event(response)
                    out.append({"event": event["event"], **json.loads(event["data"])})
            except (httpx.HTTPError, AssertionError):  # the server shut down under a quiet stream
                return

        other: list[dict[str, Any]] = []
        threads = [threading.Thread(target=listen, args=("e7", received), daemon=True),
                   threading.Thread(target=listen, args=("e8", other), daemon=True)]  # fmt: skip
        for t in threads:
            connected.clear()
            t.start()
            assert connected.wait(10)
        r = http.post("/v1/conversations/chat-7/messages",
                      json={"messages": [{"id": "m2", "role": "agent", "text": "加 V 信：wang_li88，私聊优惠"}]})  # fmt: skip
        assert (
            r.json()["alerts"] == 2
        )  # to the agent, and to the supervisor (unknown here: nobody's stream)
        threads[0].join(timeout=10)
        assert received, "no alert arrived on the agent's stream"
        alert = received[0]
        assert (alert["event"], alert["rule_id"], alert["conversation_id"], alert["employee_id"], alert["team"]) == (
            "alert", "redline.private-contact", "chat-7", "e7", "销售二组",
        )  # fmt: skip
        spans = [(e["message_id"], e["start"], e["end"], e["text"]) for e in alert["evidence"]]
        assert spans == [
            ("m2", 0, 5, "加 V 信"),
            ("m2", 6, 15, "wang_li88"),
            ("m2", 16, 18, "私聊"),
        ]
        assert other == []  # another agent's stream stays quiet


def test_a_segments_notify_reaches_the_owners_stream(tmp_path: Path) -> None:
    """RULES.md: ``{notify: owner}`` is an alert — on the SSE stream of the customer's owner when
    a run (here an admin's ``POST /v1/segments/{id}/run``) puts the customer in the segment."""
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'qc.db'}", scheduler=False)
    store = open_store(settings)
    with write_transaction(store.session_factory) as db:
        World(db).chat("u1", ("customer", "报价多少", utcnow() - timedelta(hours=1)))
        publish(db_session=db, tenant_id="default", source="api", source_name="test", doc={"rules": [], "segments": [
            {"id": "seg.quote", "name": "问价", "first_run": "full",
             "when": {"said": {"cond": {"keyword": {"words": ["报价"]}}, "window": "7d"}},
             "on_enter": [{"notify": "owner"}]}]})  # fmt: skip
    owner, other = (
        bearer(store, "agent", employee_id="e1"),
        bearer(store, "agent", employee_id="e2"),
    )
    admin = bearer(store, "admin")
    store.close()
    with api_server(settings) as base, httpx.Client(base_url=base, timeout=10) as http:
        got: dict[str, list[dict[str, Any]]] = {"e1": [], "e2": []}
        connected = threading.Event()

        def listen(who: str, headers: dict[str, str]) -> None:
            try:
                with http.stream("GET", "/v1/alerts/stream", headers=headers) as response:
                    connected.set()
                    got[who].append(json.loads(read_sse_event(response)["data"]))
            except (httpx.HTTPError, AssertionError):  # the server shut down under a quiet stream
                return

        threads = [threading.Thread(target=listen, args=a, daemon=True)
                   for a in (("e1", owner), ("e2", other))]  # fmt: skip
        for t in threads:
            connected.clear()
            t.start()
            assert connected.wait(10)
        run = http.post("/v1/segments/seg.quote/run", headers=admin).json()
        assert (run["status"], run["entered"]) == ("done", 1)
        threads[0].join(timeout=10)
        assert [(a["kind"], a["segment_id"], a["action"], a["customer_id"], a["employee_id"])
                for a in got["e1"]] == [("segment", "seg.quote", "enter", "u1", "e1")]  # fmt: skip
        assert got["e2"] == []  # another agent's stream stays quiet
