"""Analyse a stored conversation: load it, evaluate the tenant's active rules, persist findings.

Why the session factory is passed in: each analysis opens its own transaction (store first,
analyse after), so a failure marks that one conversation ``failed`` with the error text and
leaves everything already stored intact and replayable.
"""

from __future__ import annotations

from sqlalchemy.orm import Session, sessionmaker

from qc_service.conversations.models import Conversation
from qc_service.conversations.service import to_rule_conversation
from qc_service.db.base import utcnow
from qc_service.pipeline.persist import save_analysis
from qc_service.rules.analysis import Analysis, analyze
from qc_service.rulesets.service import active_ruleset


def analyze_in_session(*, db_session: Session, conversation_pk: int) -> Analysis:
    """Run the rule stage on one conversation inside the caller's transaction."""
    conv = db_session.get(Conversation, conversation_pk)
    if conv is None:
        raise LookupError(f"conversation pk {conversation_pk} does not exist")
    ruleset = active_ruleset(db_session=db_session, tenant_id=conv.tenant_id)
    analysis = analyze(ruleset, to_rule_conversation(conv))
    save_analysis(db_session, conv, ruleset, analysis)
    return analysis


def analyze_conversation(
    *, session_factory: sessionmaker[Session], conversation_pk: int
) -> Analysis | None:
    """Analyse in a transaction of its own; on failure record it on the conversation and return None."""
    try:
        with session_factory() as db_session, db_session.begin():
            return analyze_in_session(db_session=db_session, conversation_pk=conversation_pk)
    except Exception as exc:  # noqa: BLE001 - any failure must become a visible, replayable status
        with session_factory() as db_session, db_session.begin():
            conv = db_session.get(Conversation, conversation_pk)
            if conv is not None:
                conv.status = "failed"
                conv.stage_errors = [
                    {"stage": "pipeline", "message": f"{type(exc).__name__}: {exc}"}
                ]
                conv.analysis_attempts = (conv.analysis_attempts or 0) + 1
                conv.analysed_at = utcnow()
        return None
