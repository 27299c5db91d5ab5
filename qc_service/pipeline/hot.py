"""The hot lane: message-level lexical rules inside the ingest call, and the alerts they raise.

Why in the ingest transaction: an agent who types 红包 must be warned before the customer has
read it, and the alert must exist exactly when its violation does. Only rules (or, for a rule
whose ``any`` mixes lexical and deep branches, the lexical branches) the hot lane can evaluate
run here; the deep lane later adds its evidence to the same violation.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from qc_service.alerts.service import raise_alerts
from qc_service.conversations.models import Conversation
from qc_service.conversations.service import to_rule_conversation
from qc_service.pipeline.persist import save_violations
from qc_service.review.models import Violation
from qc_service.rules.analysis import Analysis
from qc_service.rules.evaluator import evaluate_hot
from qc_service.rulesets.service import active_ruleset


def run_hot_lane(
    *, db_session: Session, conv: Conversation, new_message_ids: set[str]
) -> list[dict[str, Any]]:
    """Evaluate hot rules; write violations and alerts for hits in the new messages.

    Returns the alert events to publish once the transaction has committed.
    """
    if not new_message_ids:
        return []
    ruleset = active_ruleset(db_session=db_session, tenant_id=conv.tenant_id)
    results = [
        r
        for r in evaluate_hot(ruleset, to_rule_conversation(conv))
        if r.triggered
        and r.kind == "violation"
        and any(e.message_id in new_message_ids for e in r.evidence)
    ]
    if not results:
        return []
    save_violations(db_session, conv, ruleset, Analysis(conv.external_id, violations=results))
    violations = {
        v.rule_id: v
        for v in db_session.scalars(select(Violation).where(Violation.conversation_id == conv.id))
    }
    events: list[dict[str, Any]] = []
    for result in results:
        rule = ruleset.get(result.rule_id)
        fresh = [e for e in result.evidence if e.message_id in new_message_ids]
        events.extend(
            raise_alerts(
                db_session=db_session,
                conv=conv,
                violation=violations[rule.id],
                rule=rule,
                evidence=fresh,
            )
        )
    db_session.flush()
    return events
