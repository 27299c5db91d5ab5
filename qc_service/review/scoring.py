"""A conversation's score, recomputed from the violations that stand.

Why in review: a decision changes which violations stand, so the review lifecycle recomputes the
score; the pipeline calls the same function after an analysis. (It lived in the pipeline, which
made review and pipeline import each other.)
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from qc_service.conversations.models import Conversation
from qc_service.db.base import utcnow
from qc_service.review.models import Score, Violation
from qc_service.rules.model import ScoreItem
from qc_service.rules.scorecard import score_items


def save_score(db_session: Session, conv: Conversation, pass_mark: int, *, complete: bool) -> Score:
    """Recompute the score from the violations that stand (overturned ones give points back)."""
    standing = db_session.scalars(
        select(Violation)
        .where(Violation.conversation_id == conv.id, Violation.status != "overturned")
        .order_by(Violation.id)
    ).all()
    items = [ScoreItem(v.rule_id, v.deduct, v.fatal) for v in standing if v.deduct or v.fatal]
    result = score_items(items, pass_mark, complete=complete)
    row = db_session.scalars(select(Score).where(Score.conversation_id == conv.id)).one_or_none()
    if row is None:
        row = Score(conversation_id=conv.id)
        db_session.add(row)
    row.score, row.pass_mark, row.passed, row.complete = (
        result.score,
        result.pass_mark,
        result.passed,
        result.complete,
    )
    row.items = [i.to_dict() for i in result.items]
    row.computed_at = utcnow()
    db_session.flush()
    return row
