"""Periodic work of review: violations whose appeal window closed unappealed are confirmed."""

from __future__ import annotations

from typing import Any

from qc_service.jobs.registry import JobContext, job
from qc_service.review.flows import confirm_expired


@job("review.confirm_expired")
def confirm(ctx: JobContext) -> dict[str, Any]:
    """Open violations older than ``QC_APPEAL_WINDOW_DAYS`` become ``confirmed`` (audited)."""
    window = ctx.store.settings.appeal_window_days
    return {
        "confirmed": confirm_expired(db_session=ctx.db_session, window_days=window, now=ctx.now)
    }
