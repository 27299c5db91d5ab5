"""Periodic work of conversations: close chats that went quiet (their final analysis runs)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select

from qc_service.conversations.models import Conversation
from qc_service.jobs.registry import JobContext, job

BATCH = 500


@job("conversations.close_idle")
def close_idle(ctx: JobContext) -> dict[str, Any]:
    """Chats with no new message for ``QC_SESSION_IDLE_MINUTES`` are closed and queued for their
    final run (leased, so the stuck-conversation job leaves them to the lane)."""
    settings = ctx.store.settings
    lease = timedelta(seconds=settings.task_visibility_seconds)
    idle_before = ctx.now - timedelta(minutes=settings.session_idle_minutes)
    idle = ctx.db_session.scalars(
        select(Conversation)
        .where(Conversation.closed.is_(False), Conversation.last_message_at < idle_before)
        .limit(BATCH)
    ).all()
    for conv in idle:
        conv.closed = True
        conv.status = "pending"
        conv.revision = (conv.revision or 0) + 1
        conv.lease_until = ctx.now + lease
    ids = [c.id for c in idle]
    ctx.to_submit.extend(ids)
    return {"closed": ids}
