"""The segments' schedule: daily at a local time in the tenant's zone, every N hours, a run
missed while the service was down runs once, and the job runs due segments through the
scheduler's ``run_job``."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from qc_service.jobs.registry import registered
from qc_service.jobs.scheduler import run_job
from qc_service.segments.jobs import is_due
from qc_service.segments.models import SegmentMember, SegmentRun
from qc_service.store import Store
from tests.segments.test_runs import setup
from tests.segments.world import AS_OF

SH = "Asia/Shanghai"
DAILY = {"daily": "02:00"}


def utc(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=UTC)


def test_daily_at_two_in_the_tenants_zone() -> None:
    ran = utc(28, 18, 0)  # 02:00 on the 29th in Shanghai
    assert not is_due(DAILY, SH, ran, utc(29, 17, 59))  # 01:59 on the 30th: not yet
    assert is_due(DAILY, SH, ran, utc(29, 18, 0))  # 02:00 on the 30th
    # down from 01:00 to 09:00 on the 30th: the missed run happens once on start…
    assert is_due(DAILY, SH, ran, utc(30, 1, 0))
    # …and not again that day
    assert not is_due(DAILY, SH, utc(30, 1, 0), utc(30, 1, 1))
    assert is_due(DAILY, SH, None, utc(30, 1, 0))  # never run: now


def test_every_hours() -> None:
    ran = utc(30, 0)
    assert not is_due({"every_hours": 6}, SH, ran, ran + timedelta(hours=5, minutes=59))
    assert is_due({"every_hours": 6}, SH, ran, ran + timedelta(hours=6))


def test_the_job_runs_due_segments_once_per_slot(store: Store) -> None:
    setup(store, customers=2)
    job = registered()["segments.run_due"]
    now = AS_OF + timedelta(minutes=5)
    run_job(store, job, lambda _pk: None, now, force=True)
    run_job(store, job, lambda _pk: None, now + timedelta(minutes=1), force=True)
    with store.session_factory() as db:
        assert db.scalar(select(func.count()).select_from(SegmentMember)) == 2
        runs = db.scalars(select(SegmentRun.trigger)).all()
    assert runs == ["schedule"]  # the second tick found nothing due


def test_the_scheduled_run_publishes_notify_alerts_to_the_process_stream(store: Store) -> None:
    setup(store, customers=2, first_run="full")  # the first run notifies too
    published: list[dict[str, object]] = []
    job = registered()["segments.run_due"]
    run_job(store, job, lambda _pk: None, AS_OF + timedelta(minutes=5), force=True,
            publish=published.append)  # fmt: skip
    assert sorted((a["customer_id"], a["employee_id"], a["action"]) for a in published) == [
        ("u0", "e1", "enter"), ("u1", "e1", "enter")]  # fmt: skip
