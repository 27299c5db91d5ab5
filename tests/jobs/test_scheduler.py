"""The job registry and the one leased scheduler loop."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from qc_service.db.base import utcnow
from qc_service.jobs.registry import DuplicateJob, Job, JobContext, job, parse_every, registered
from qc_service.jobs.scheduler import Scheduler, run_job
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


def test_with_a_broker_a_due_job_is_sent_once_in_flight_and_again_if_no_worker_ran_it(
    store: Store,
) -> None:
    runs: list[str] = []

    def daily(_ctx: JobContext) -> dict[str, Any]:
        runs.append("ran")
        return {}

    job_ = Job("t.daily", daily, 86400.0, lambda _s: True)
    jobs = {"t.daily": job_}
    sent: list[str] = []
    now = utcnow()
    took = Scheduler(
        store, lambda _pk: None, holder="a", jobs=jobs, enqueue=lambda n: sent.append(n) or True
    )
    assert took.tick(now=now).results == {"t.daily": {"enqueued": True}} and runs == []
    assert took.tick(now=now + timedelta(seconds=60)).results == {}  # in flight: not sent twice
    later = now + timedelta(hours=1)  # no worker ran it within the visibility timeout: sent again
    assert (
        took.tick(now=later).results == {"t.daily": {"enqueued": True}} and sent == ["t.daily"] * 2
    )
    assert run_job(store, job_, lambda _pk: None, later) == {} and runs == [
        "ran"
    ]  # a worker runs it
    assert run_job(store, job_, lambda _pk: None, later) == {
        "skipped": "not due"
    }  # a duplicate delivery
    assert took.tick(now=later + timedelta(hours=2)).results == {}  # ran: due again tomorrow
    refused = Scheduler(store, lambda _pk: None, holder="a", jobs=jobs, enqueue=lambda _n: False)
    refused.tick(now=later + timedelta(hours=25))
    assert runs == ["ran", "ran"]  # the broker said no: the lease holder ran it itself


def test_two_processes_never_run_one_job_at_once(store: Store) -> None:
    """The job's row is locked for its run: a second runner waits, then finds it not due."""
    import threading

    started, release = threading.Event(), threading.Event()
    runs: list[str] = []

    def slow(_ctx: JobContext) -> dict[str, Any]:
        runs.append("start")
        started.set()
        release.wait(10)
        runs.append("end")
        return {}

    job_ = Job("t.slow", slow, 3600.0, lambda _s: True)
    now = utcnow()
    first = threading.Thread(target=run_job, args=(store, job_, lambda _pk: None, now))
    first.start()
    assert started.wait(10)
    results: list[dict[str, Any]] = []
    second = threading.Thread(
        target=lambda: results.append(run_job(store, job_, lambda _pk: None, now))
    )
    second.start()
    second.join(0.5)  # let it reach the row lock while the first run holds it
    release.set()
    first.join(10)
    second.join(10)
    assert runs == ["start", "end"] and results == [{"skipped": "not due"}]
