"""A caller's scope (``identity.policy.Scope``) as WHERE clauses on conversations and customers.

Why clauses, not filters in Python: lists must never load other people's rows (ACCESS.md), and
an object outside the scope must look exactly like one that does not exist (404). Every read
query of conversations, violations, scores and customers adds one of these.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, Select, and_, false, select, true
from sqlalchemy.orm import Session

from qc_service.conversations.models import Conversation
from qc_service.customers.models import Customer
from qc_service.errors import NotFound
from qc_service.identity.policy import Access, Scope
from qc_service.tenancy.models import Employee


def _employees(scope: Scope) -> Select[tuple[int]] | None:
    """Ids of the employees a TEAMS or OWN scope covers (None: nobody, e.g. no teams set)."""
    mine = select(Employee.id).where(Employee.tenant_id == scope.tenant_id)
    if scope.access is Access.TEAMS:
        return mine.where(Employee.team.in_(scope.teams)) if scope.teams else None
    return mine.where(Employee.external_id == scope.employee_id) if scope.employee_id else None


def conversation_clause(scope: Scope) -> ColumnElement[bool]:
    """Conversations the scope may see (always within its tenant)."""
    tenant = Conversation.tenant_id == scope.tenant_id
    if scope.access is Access.ALL:
        return tenant
    if scope.access is Access.CUSTOMERS:
        if not scope.employee_id:
            return false()
        owned = select(Customer.id).where(customer_clause(scope))
        return and_(tenant, Conversation.customer_id.in_(owned))
    employees = _employees(scope)
    return false() if employees is None else and_(tenant, Conversation.employee_id.in_(employees))


def agent_clause(
    scope: Scope, employee: ColumnElement[int | None], conversation: ColumnElement[int]
) -> ColumnElement[bool]:
    """Rows that carry their agent (violations copy it) the scope may see, within a tenant the
    caller has already fixed. Why not ``conversation_clause``: it needs a join to conversations,
    which a count over 100,000 violations cannot afford (``insights.dashboard``)."""
    if scope.access is Access.ALL:
        return true()
    if scope.access is Access.CUSTOMERS:
        return conversation.in_(select(Conversation.id).where(conversation_clause(scope)))
    employees = _employees(scope)
    return false() if employees is None else employee.in_(employees)


def customer_clause(scope: Scope) -> ColumnElement[bool]:
    """Customers the scope may see: sales their own, managers their teams' customers."""
    tenant = Customer.tenant_id == scope.tenant_id
    if scope.access is Access.ALL:
        return tenant
    if scope.access is Access.CUSTOMERS:
        if not scope.employee_id:
            return false()
        return and_(tenant, Customer.owner_external_id == scope.employee_id)
    employees = _employees(scope)
    if employees is None:
        return false()
    seen = select(Conversation.customer_id).where(Conversation.employee_id.in_(employees))
    return and_(tenant, Customer.id.in_(seen))


def visible_conversation(db_session: Session, scope: Scope, external_id: str) -> Conversation:
    """The conversation by its record id if the scope may see it, else 404 (never 403)."""
    conv = db_session.scalars(
        select(Conversation).where(
            Conversation.external_id == external_id, conversation_clause(scope)
        )  # fmt: skip
    ).one_or_none()
    if conv is None:
        raise NotFound(f"conversation {external_id!r} not found", record_id=external_id)
    return conv


def visible_customer(db_session: Session, scope: Scope, external_id: str) -> Customer:
    """The customer by the tenant's id if the scope may see it, else 404."""
    customer = db_session.scalars(
        select(Customer).where(Customer.external_id == external_id, customer_clause(scope))
    ).one_or_none()
    if customer is None:
        raise NotFound(f"customer {external_id!r} not found", record_id=external_id)
    return customer
