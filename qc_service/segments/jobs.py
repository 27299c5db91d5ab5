"""``segments.run_due``: every minute, the segments whose schedule is due in the tenants' zone.

Why "due" compares the last run with the latest scheduled slot (not "is it 02:00 now"): a
service that was down at 02:00 runs the missed run once when it comes back, and a job that
runs every 60 s on several processes still runs a segment once per slot (the scheduler's job
lease, then each segment's own lease).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select

from qc_service.jobs.registry import JobContext, job
from qc_service.segments.models import Segment
from qc_service.segments.service import run_segments


def latest_slot(schedule: dict[str, Any], tz: str, now: datetime) -> datetime | None:
    """The latest ``daily`` time at or before ``now`` in ``tz`` (None for ``every_hours``)."""
    if "daily" not in schedule:
        return None
    hour, minute = (int(x) for x in str(schedule["daily"]).split(":"))
    local = now.astimezone(ZoneInfo(tz))
    slot = local.replace(hour=hour, minute=minute, second=0, microsecond=0)
    if slot > local:
        slot = (local - timedelta(days=1)).replace(
            hour=hour, minute=minute, second=0, microsecond=0
        )
    return slot


def is_due(schedule: dict[str, Any], tz: str, last_run_at: datetime | None, now: datetime) -> bool:
    """Whether a segment with this schedule, last run at ``last_run_at``, runs at ``now``."""
    if last_run_at is None:
        return True
    slot = latest_slot(schedule, tz, now)
    if slot is not None:
        return last_run_at < slot
    return now - last_run_at >= timedelta(hours=float(schedule.get("every_hours", 24)))


@job("segments.run_due", every="60s")
def run_due(ctx: JobContext) -> dict[str, Any]:
    """Find the tenants with segments; run their due segments after this job's transaction (a
    run writes in its own batches)."""
    tenants = sorted(set(ctx.db_session.scalars(select(Segment.tenant_id).where(Segment.enabled))))
    tz, now, store = ctx.store.settings.timezone, ctx.now, ctx.store

    def run_all() -> None:
        for tenant in tenants:
            run_segments(store.session_factory, tenant, as_of=now, trigger="schedule",
                         due=lambda row, seg: is_due(seg.schedule, tz, row.last_run_at, now),
                         publish=ctx.publish)  # fmt: skip

    if tenants:
        ctx.after_commit.append(run_all)
    return {"tenants": len(tenants)}
