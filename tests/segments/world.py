"""A small store world at a frozen clock: customers with messages, violations, tags and group
events placed at exact times, so every leaf and trap of RULES.md can be pinned to its edge."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from qc_service.conversations.models import Conversation, Message
from qc_service.customers.models import Customer, CustomerEvent
from qc_service.review.models import Evidence, Violation
from qc_service.tagging.models import CustomerTag
from qc_service.tenancy.models import Employee
from qc_service.tenancy.service import get_or_create_tenant

AS_OF = datetime(2026, 11, 30, 2, 0, tzinfo=UTC)


def ago(days: float = 0, hours: float = 0) -> datetime:
    """A time before the frozen ``AS_OF``."""
    return AS_OF - timedelta(days=days, hours=hours)


class World:
    """Builds rows in one session (the caller commits)."""

    def __init__(self, db: Session, tenant: str = "default") -> None:
        self.db = db
        self.tenant = tenant
        get_or_create_tenant(db_session=db, tenant_id=tenant)
        found = db.scalars(
            select(Employee).where(Employee.tenant_id == tenant, Employee.external_id == "e1")
        )
        self.employee = found.first() or Employee(tenant_id=tenant, external_id="e1", name="张伟",
                                                  team="销售一组", supervisor_external_id="e9")  # fmt: skip
        db.add(self.employee)
        self.customers: dict[str, Customer] = {}
        self._conv = len(db.scalars(select(Conversation.id)).all())

    def customer(self, cid: str, **fields: Any) -> Customer:
        if cid not in self.customers:
            known = self.db.scalars(select(Customer).where(Customer.tenant_id == self.tenant,
                                                           Customer.external_id == cid)).first()  # fmt: skip
            if known is not None:
                self.customers[cid] = known
                return known
            c = Customer(tenant_id=self.tenant, external_id=cid, owner_external_id="e1", **fields)
            self.db.add(c)
            self.db.flush()
            self.customers[cid] = c
        return self.customers[cid]

    def chat(self, cid: str, *messages: tuple[str, str, datetime]) -> Conversation:
        """A conversation of ``(role, text, ts)`` messages."""
        self._conv += 1
        conv = Conversation(tenant_id=self.tenant, external_id=f"{cid}-c{self._conv}", channel="wecom",
                            employee=self.employee, customer=self.customer(cid), status="analysed",
                            started_at=messages[0][2] if messages else None)  # fmt: skip
        self.db.add(conv)
        self.db.flush()
        for i, (role, text, ts) in enumerate(messages):
            self.db.add(Message(conversation_id=conv.id, external_id=f"m{i}", seq=i, role=role,
                                text=text, ts=ts))  # fmt: skip
        self.db.flush()
        return conv

    def violation(self, conv: Conversation, rule_id: str, *, message: str = "m0",
                  severity: str = "high", status: str = "open") -> Violation:  # fmt: skip
        v = Violation(tenant_id=self.tenant, conversation_id=conv.id, rule_id=rule_id, rule_version=1,
                      severity=severity, status=status)  # fmt: skip
        self.db.add(v)
        self.db.flush()
        self.db.add(Evidence(violation_id=v.id, kind="message", message_external_id=message))
        self.db.flush()
        return v

    def tag(self, cid: str, tag: str, source: str = "rule", at: datetime | None = None,
            removed: datetime | None = None) -> None:  # fmt: skip
        at = at or ago(days=1)
        self.db.add(CustomerTag(tenant_id=self.tenant, customer_id=self.customer(cid).id, tag=tag, source=source,
                                evidence=[], first_seen_at=at, last_seen_at=at, removed_at=removed))  # fmt: skip
        self.db.flush()

    def event(self, cid: str, type_: str, group: str, ts: datetime) -> None:
        self.db.add(CustomerEvent(tenant_id=self.tenant, customer_id=self.customer(cid).id, type=type_,
                                  group_name=group, data={"group": group}, ts=ts))  # fmt: skip
        self.db.flush()
