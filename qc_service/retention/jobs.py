"""Periodic work of retention: once a day, purge what is past ``QC_RETENTION_DAYS`` (when set)."""

from __future__ import annotations

from typing import Any

from qc_service.jobs.registry import JobContext, job
from qc_service.retention.service import purge


@job("retention.purge", every="24h", enabled=lambda settings: settings.retention_days is not None)
def purge_daily(ctx: JobContext) -> dict[str, Any]:
    """The same purge as ``qc retention purge``, by the scheduler (actor ``system``)."""
    settings = ctx.store.settings
    report = purge(ctx.db_session, days=settings.retention_days, data_dir=settings.data_dir,
                   dry_run=False, actor="system", now=ctx.now)  # fmt: skip
    ctx.after_commit.append(report.delete_files)
    return {"conversations": report.conversations, "audio_files": report.audio_files}
