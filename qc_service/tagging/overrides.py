"""A person's acts on a customer's tag — remove, lock, confirm, clear — with their audit event.

Why one function for the API and the pages: ACCESS.md has one override model (rules, Q&A and
segments all respect it); the JSON router and the customer page must not drift apart.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from qc_service.audit.service import record
from qc_service.conversations.scope import visible_customer
from qc_service.errors import NotFound
from qc_service.identity.policy import Scope
from qc_service.tagging.service import clear_override, confirm_tag, lock_tag, remove_by_person

ACTIONS = ("tag.removed", "tag.locked", "tag.confirmed", "tag.override_cleared")


def act_on_tag(
    db_session: Session, *, scope: Scope, actor: str, customer_id: str, tag: str, action: str,
    reason: str | None,
) -> None:  # fmt: skip
    """Apply ``action`` to the customer's tag in the caller's transaction and audit it; 404 when
    the customer is outside the scope or the tag is not there."""
    customer = visible_customer(db_session, scope, customer_id)
    why = reason or ""
    done = {
        "tag.removed": lambda: remove_by_person(db_session=db_session, customer=customer, tag=tag, actor=actor, reason=why),
        "tag.locked": lambda: lock_tag(db_session=db_session, customer=customer, tag=tag, actor=actor, reason=why),
        "tag.confirmed": lambda: confirm_tag(db_session=db_session, customer=customer, tag=tag, actor=actor),
        "tag.override_cleared": lambda: clear_override(db_session=db_session, customer=customer, tag=tag),
    }[action]()  # fmt: skip
    if not done:
        raise NotFound(f"customer {customer_id!r} has no tag {tag!r}", record_id=customer_id)
    summary = {"tag": tag}  # what was on before a removal; what holds after the others
    record(db_session, tenant_id=scope.tenant_id, actor=actor, action=action, entity_type="customer",
           entity_id=customer_id, reason=reason or None,
           before=summary if action == "tag.removed" else None,
           after=None if action == "tag.removed" else summary)  # fmt: skip
