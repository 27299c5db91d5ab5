"""The job registry and the one leased scheduler loop."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from qc_service.db.base import utcnow
from qc_service.jobs.registry import DuplicateJob, Job, JobContext, job, parse_every, registered
from qc_service.jobs.scheduler import Scheduler
from qc_service.kernel import JOB_MODULES
from qc_service.store import Store


def test_every_domain_job_is_registered_once_and_duplicates_fail_loudly() -> None:
    assert JOB_MODULES  # the kernel imports them
    assert {"conversations.close_idle", "pipeline.requeue_stuck", "rulesets.promote_due",
            "review.confirm_expired", "retention.purge"} <= set(registered())  # fmt: skip

    def other(_ctx: JobContext) -> dict[str, Any]:
        return {}

    with pytest.raises(DuplicateJob, match="review.confirm_expired"):
        job("review.confirm_expired")(other)
    assert parse_every("24h") == 86400 and parse_every("30s") == 30
    with pytest.raises(ValueError, match="every must look like"):
        parse_every("daily")


def test_a_daily_job_runs_once_a_day_whoever_holds_the_lease_and_a_failing_job_spares_the_others(
    store: Store,
) -> None:
    runs: list[str] = []

    def daily(ctx: JobContext) -> dict[str, Any]:
        runs.append("daily")
        return {"ran": True}

    def broken(_ctx: JobContext) -> dict[str, Any]:
        raise RuntimeError("boom")

    jobs = {"t.daily": Job("t.daily", daily, 86400.0, lambda _s: True),
            "t.broken": Job("t.broken", broken, None, lambda _s: True),
            "t.off": Job("t.off", daily, None, lambda _s: False)}  # fmt: skip
    now = utcnow()
    first = Scheduler(store, lambda _pk: None, holder="a", jobs=jobs).tick(now=now)
    assert first.ran and runs == ["daily"] and first.errors == {"t.broken": "RuntimeError: boom"}
    # another process takes over once a's lease has run out: the daily job is not due again yet
    later = now + timedelta(hours=1)
    assert Scheduler(store, lambda _pk: None, holder="b", jobs=jobs).tick(now=later).ran is False
    with store.session_factory() as s, s.begin():
        from sqlalchemy import update

        from qc_service.jobs.models import Lease

        s.execute(
            update(Lease)
            .where(Lease.name == "scheduler")
            .values(until=utcnow() - timedelta(seconds=1))
        )
    assert Scheduler(store, lambda _pk: None, holder="b", jobs=jobs).tick(now=later).ran
    assert runs == ["daily"]
    Scheduler(store, lambda _pk: None, holder="b", jobs=jobs).tick(now=now + timedelta(hours=25))
    assert runs == ["daily", "daily"]


def test_with_a_broker_due_jobs_are_enqueued_and_run_here_when_the_broker_refuses(
    store: Store,
) -> None:
    runs: list[str] = []

    def daily(_ctx: JobContext) -> dict[str, Any]:
        runs.append("ran here")
        return {}

    jobs = {"t.daily": Job("t.daily", daily, 86400.0, lambda _s: True)}
    sent: list[str] = []
    now = utcnow()
    took = Scheduler(
        store, lambda _pk: None, holder="a", jobs=jobs, enqueue=lambda n: sent.append(n) or True
    )
    assert (
        took.tick(now=now).results == {"t.daily": {"enqueued": True}}
        and sent == ["t.daily"]
        and runs == []
    )
    assert (
        took.tick(now=now + timedelta(hours=1)).results == {}
    )  # enqueued counts as run: not due again
    refused = Scheduler(store, lambda _pk: None, holder="a", jobs=jobs, enqueue=lambda _n: False)
    refused.tick(now=now + timedelta(hours=25))
    assert runs == ["ran here"]  # the broker said no: the lease holder ran it itself
