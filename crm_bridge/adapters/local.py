"""The ``local`` adapter: the service's own customer records act as the CRM.

Why: a tenant without a CRM still sees tags, open violations and owner transfers on the
customer; and since it writes in the dispatcher's transaction, delivery is exactly-once. Every
handler is idempotent (applying an event twice leaves the record as applying it once).
``CustomerTag`` belongs to the tagging domain; the CRM view is ``Customer.extra["crm_tags"]``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from crm_bridge.adapters.base import CrmAdapter, PermanentDeliveryError
from qc_service.customers.models import Customer
from qc_service.db.base import utcnow

OVERTURNED = "overturned"


def _tag_added(customer: Customer, data: dict[str, Any]) -> None:
    tags = list((customer.extra or {}).get("crm_tags") or [])
    if data["tag"] not in tags:
        customer.extra = {**(customer.extra or {}), "crm_tags": [*tags, data["tag"]]}


def _tag_removed(customer: Customer, data: dict[str, Any]) -> None:
    tags = list((customer.extra or {}).get("crm_tags") or [])
    if data["tag"] in tags:
        customer.extra = {
            **(customer.extra or {}),
            "crm_tags": [t for t in tags if t != data["tag"]],
        }


def _save_violations(customer: Customer, violations: dict[str, dict[str, Any]]) -> None:
    # A new dict (plain JSON columns track assignment, not mutation); "open" is recounted.
    open_count = sum(1 for v in violations.values() if v.get("status") == "open")
    customer.violation_summary = {
        **(customer.violation_summary or {}),
        "violations": violations,
        "open": open_count,
    }


def _violation_entry(data: dict[str, Any], status: str) -> dict[str, Any]:
    return {
        "rule_id": data.get("rule_id"),
        "severity": data.get("severity"),
        "status": status,
        "conversation_id": data.get("conversation_id"),
    }


def _violation_opened(customer: Customer, data: dict[str, Any]) -> None:
    violations = dict((customer.violation_summary or {}).get("violations") or {})
    key = str(data["violation_id"])
    if key not in violations:  # a re-delivered "opened" never resets a decided status
        violations[key] = _violation_entry(data, "open")
    _save_violations(customer, violations)


def _violation_decided(customer: Customer, data: dict[str, Any]) -> None:
    violations = dict((customer.violation_summary or {}).get("violations") or {})
    key = str(data["violation_id"])
    if data["status"] == OVERTURNED:
        violations.pop(key, None)
    else:
        violations[key] = {**_violation_entry(data, data["status"]), **violations.get(key, {})}
        violations[key]["status"] = data["status"]
    _save_violations(customer, violations)


def _transfer_requested(customer: Customer, data: dict[str, Any]) -> None:
    # a transfer outranks conversations: later chats of the old owner do not take the customer back
    customer.owner_external_id = data["to_employee"]
    customer.owner_source, customer.owner_since = "transfer", utcnow()


HANDLERS: dict[str, Callable[[Customer, dict[str, Any]], None]] = {
    "tag.added": _tag_added,
    "tag.removed": _tag_removed,
    "violation.opened": _violation_opened,
    "violation.decided": _violation_decided,
    "customer.transfer_requested": _transfer_requested,
}
"""What each event type does to the customer record (``alert.raised`` is not a CRM write)."""

NO_OPS = frozenset({"alert.raised"})


class LocalAdapter(CrmAdapter):
    """Applies events to ``Customer`` rows in the dispatcher's transaction."""

    slug = "local"
    in_transaction = True

    def deliver(self, event: dict[str, Any], *, db_session: Session) -> None:
        """Apply one event to its customer (row-locked on PostgreSQL)."""
        event_type = event["type"]
        if event_type in NO_OPS:
            return
        handler = HANDLERS.get(event_type)
        if handler is None:
            raise PermanentDeliveryError(f"local adapter: unknown event type {event_type!r}")
        data = event["data"]
        customer = db_session.scalars(
            select(Customer)
            .where(Customer.tenant_id == event["tenant"])
            .where(Customer.external_id == data["customer_id"])
            .with_for_update()
        ).one_or_none()
        if customer is None:
            raise PermanentDeliveryError(
                f"local adapter: no customer {data['customer_id']!r} in tenant {event['tenant']!r}"
            )
        try:
            handler(customer, data)
        except KeyError as exc:
            raise PermanentDeliveryError(f"local adapter: {event_type} without {exc}") from exc
        db_session.flush()
