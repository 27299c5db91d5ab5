"""Periodic work of the pipeline: the database's guarantee that nothing stored stays unanalysed.

Why: a queue can lose a task (a worker killed before it acked, Redis flushed or restarted); the
database cannot. Every pending conversation whose lease ran out is queued again.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import or_, select

from qc_service.conversations.models import Conversation
from qc_service.jobs.registry import JobContext, job

BATCH = 500


@job("pipeline.requeue_stuck")
def requeue_stuck(ctx: JobContext) -> dict[str, Any]:
    """Pending conversations whose run did not finish within the lease are submitted again."""
    lease = timedelta(seconds=ctx.store.settings.task_visibility_seconds)
    now = ctx.now
    stuck = ctx.db_session.scalars(
        select(Conversation)
        .where(
            Conversation.status == "pending",
            or_(
                Conversation.lease_until < now,
                Conversation.lease_until.is_(None) & (Conversation.updated_at < now - lease),
            ),
        )
        .limit(BATCH)
    ).all()
    for conv in stuck:
        conv.lease_until = now + lease
    ids = [c.id for c in stuck]
    ctx.to_submit.extend(ids)
    return {"requeued": ids}
