"""Finding customers for the customer list (UI.md ``/customers``): by name or id, and by a tag.

Why in tagging: the tag filter reads tagging's table, and tagging already sits on customers.
"""

from __future__ import annotations

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from qc_service.conversations.scope import customer_clause
from qc_service.customers.models import Customer
from qc_service.identity.policy import Scope
from qc_service.tagging.models import CustomerTag


def search_customers(
    *, db_session: Session, scope: Scope, q: str | None, tag: str | None, cursor: int | None,
    limit: int = 50,
) -> tuple[list[Customer], int | None]:  # fmt: skip
    """Customers in the caller's scope whose name or id contains ``q`` and who carry ``tag`` now;
    by id, keyset-paged (``cursor`` = the last id of the previous page)."""
    stmt = select(Customer).where(customer_clause(scope))
    if q:
        pattern = f"%{q}%"
        stmt = stmt.where(or_(Customer.name.like(pattern), Customer.external_id.like(pattern)))
    if tag:
        stmt = stmt.where(Customer.id.in_(select(CustomerTag.customer_id).where(
            CustomerTag.tag == tag, CustomerTag.removed_at.is_(None))))  # fmt: skip
    if cursor is not None:
        stmt = stmt.where(Customer.id > cursor)
    rows = list(db_session.scalars(stmt.order_by(Customer.id).limit(limit + 1)))
    return rows[:limit], (rows[limit - 1].id if len(rows) > limit else None)
