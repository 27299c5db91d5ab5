"""Actions delivered end to end: a finding's transfer moves the customer to the supervisor in the
local CRM records, an unknown supervisor is a visible action error, an overturn leaves the CRM
summary, and a supervisor alert reaches the webhook signed."""

from __future__ import annotations

from bridge_helpers import SECRET, bridge_settings
from crm_receiver import Receiver
from sqlalchemy import select

from crm_bridge.dispatcher import dispatch_once
from crm_bridge.signing import verify_signature
from qc_service.customers.models import Customer
from qc_service.db.session import write_transaction
from qc_service.pipeline.files import ingest_one
from qc_service.review import flows
from qc_service.review.models import Violation
from qc_service.rules.loader import parse_rules_text
from qc_service.rulesets.service import publish
from qc_service.store import Store

RULES = """
rules:
  - id: redline.poach
    name: 撬客户
    severity: critical
    deduct: 50
    when: {keyword: {words: [私下签约], role: agent}}
    actions: [{alert: supervisor}, {transfer_customer: {to: supervisor}}, {tag_customer: 撬单风险}]
"""


def _setup(store: Store) -> None:
    with write_transaction(store.session_factory) as s:
        publish(
            db_session=s,
            tenant_id="default",
            doc=parse_rules_text(RULES, "r.yaml"),
            source="file",
            source_name="r.yaml",
        )


def _record(rid: str, supervisor: str | None) -> dict[str, object]:
    employee: dict[str, object] = {"id": "e1", "team": "销售一组"}
    if supervisor:
        employee["supervisor_id"] = supervisor
    return {"id": rid, "channel": "wecom", "employee": employee, "customer": {"id": f"cust-{rid}"},
            "messages": [{"id": "m1", "role": "agent", "text": "我们私下签约，比公司便宜"}]}  # fmt: skip


def test_transfer_tag_and_summary_reach_the_local_crm_records(store: Store) -> None:
    _setup(store)
    ingest_one(store, _record("c1", "e9"), final=True)
    report = dispatch_once(store.session_factory, bridge_settings())
    assert report.dead == 0 and report.delivered >= 4
    with store.session_factory() as s:
        customer = s.scalars(select(Customer).where(Customer.external_id == "cust-c1")).one()
        assert customer.owner_external_id == "e9"  # forced transfer to the supervisor
        assert "撬单风险" in customer.extra.get("crm_tags", [])
        (summary,) = customer.violation_summary["violations"].values()
        assert summary["rule_id"] == "redline.poach" and customer.violation_summary["open"] == 1
        violation = s.scalars(select(Violation)).one()
        states = {a["type"]: a for a in violation.actions}
        assert (
            states["transfer_customer"]["status"] == "queued"
            and states["transfer_customer"]["to_employee"] == "e9"
        )
    with write_transaction(store.session_factory) as s:
        flows.decide(
            db_session=s,
            violation=s.scalars(select(Violation)).one(),
            decision="overturn",
            reason_code="machine_error",
            reviewer="qa",
            comment="误报",
        )
    dispatch_once(store.session_factory, bridge_settings())
    with store.session_factory() as s:
        customer = s.scalars(select(Customer).where(Customer.external_id == "cust-c1")).one()
        assert (
            customer.violation_summary["violations"] == {}
            and customer.violation_summary["open"] == 0
        )


def test_unknown_supervisor_is_a_visible_action_error(store: Store) -> None:
    _setup(store)
    ingest_one(store, _record("c2", None), final=True)
    with store.session_factory() as s:
        violation = s.scalars(select(Violation)).one()
        transfer = next(a for a in violation.actions if a["type"] == "transfer_customer")
        assert (
            transfer["status"] == "error"
            and transfer["error"] == "no supervisor known for employee e1"
        )


def test_supervisor_alert_reaches_the_webhook_signed(store: Store, receiver: Receiver) -> None:
    _setup(store)
    ingest_one(store, _record("c3", "e9"), final=True)
    dispatch_once(
        store.session_factory, bridge_settings(crm_adapter="webhook", webhook_url=receiver.url)
    )
    events = {r.event["type"]: r for r in receiver.requests}
    alert = events["alert.raised"]
    data = alert.event["data"]
    assert (data["target"], data["supervisor_id"], data["rule_id"]) == (
        "supervisor",
        "e9",
        "redline.poach",
    )
    assert data["evidence"][0]["text"] == "私下签约"
    assert verify_signature(SECRET, alert.timestamp, alert.body, alert.signature)
    assert alert.key == alert.event["id"]
    assert {"violation.opened", "tag.added", "customer.transfer_requested", "alert.raised"} <= set(
        events
    )
