"""One leased scheduler loop: at start and every ``QC_SWEEP_INTERVAL_SECONDS`` the process that
holds the ``scheduler`` lease runs the jobs that are due.

Why a lease in the database: API processes, workers and a lone ``qc scheduler`` may all run the
loop; exactly one of them works at a time, and a crashed holder's lease runs out. Each job runs in
its own transaction holding its row lock (``job:<name>``, where the time it last ran is kept), so
two processes never run one job at once and a daily job runs once a day whoever holds the lease;
a failing job is logged and retried next tick, the others still run. The lease is renewed before
each job. Conversations a job hands to the deep lane are submitted after its
commit. With a broker, a due job is enqueued as a Celery task (``qc.jobs.run``) and a worker runs
it; when the broker refuses, the holder runs it itself (the failure is logged, nothing waits).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import or_, update
from sqlalchemy.exc import IntegrityError

from qc_service.db.base import utcnow
from qc_service.db.session import write_transaction
from qc_service.jobs.models import Lease
from qc_service.jobs.registry import Job, JobContext, registered

log = logging.getLogger(__name__)
SCHEDULER_LEASE = "scheduler"
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
"""A job row's time before its first run."""


def holder_id() -> str:
    """This process (and thread), as a lease holder."""
    return f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"


def acquire_lease(session_factory: Any, name: str, holder: str, seconds: float) -> bool:
    """Take (or renew) a named lease; False while another holder's lease is still valid."""
    now = utcnow()
    until = now + timedelta(seconds=seconds)
    try:
        with write_transaction(session_factory) as db_session:
            taken = db_session.execute(
                update(Lease)
                .where(Lease.name == name, or_(Lease.until < now, Lease.holder == holder))
                .values(holder=holder, until=until)
            ).rowcount
            if taken:
                return True
            if db_session.get(Lease, name) is None:
                db_session.add(Lease(name=name, holder=holder, until=until))
                db_session.flush()
                return True
            return False
    except IntegrityError:  # another process inserted the row first
        return False


@dataclass(slots=True)
class TickResult:
    """What one tick did: whether this process held the lease, and each job's summary."""

    ran: bool
    results: dict[str, dict[str, Any]] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)


def _row(session_factory: Any, key: str) -> datetime | None:
    with session_factory() as db_session:
        row = db_session.get(Lease, key)
        return row.until if row else None


def _set(db_session: Any, key: str, when: datetime) -> None:
    row = db_session.get(Lease, key)
    if row is None:
        db_session.add(Lease(name=key, holder="scheduler", until=when))
    else:
        row.until = when


def _lock_job(db_session: Any, name: str) -> datetime | None:
    """Lock the job's row for this transaction (PostgreSQL ``FOR UPDATE``; SQLite's write lock
    is already held) and return when it last ran: two processes never run one job at once."""
    key = f"job:{name}"
    if db_session.get(Lease, key) is None:
        try:
            with db_session.begin_nested():
                db_session.add(Lease(name=key, holder="scheduler", until=EPOCH))
        except IntegrityError:  # another process created it first
            pass
    row = db_session.get(Lease, key, with_for_update=True, populate_existing=True)
    return None if row is None or row.until == EPOCH else row.until


def is_due(job: Job, last: datetime | None, now: datetime) -> bool:
    """A job with a period is due when it never ran or its period has passed since."""
    return job.every is None or last is None or now - last >= timedelta(seconds=job.every)


def run_job(
    store: Any, job: Job, submit: Callable[[int], None], now: datetime, *, force: bool = False,
    publish: Callable[[dict[str, Any]], None] | None = None,
) -> dict[str, Any]:  # fmt: skip
    """Run one job in its own transaction, holding its row lock, if it is (still) due; then
    submit the conversations it queued and run its after-commit effects (files to delete…).
    Returns ``{"skipped": "not due"}`` when another process ran it meanwhile."""
    with write_transaction(store.session_factory) as db_session:
        last = _lock_job(db_session, job.name)
        if not force and not is_due(job, last, now):
            return {"skipped": "not due"}
        ctx = JobContext(store=store, db_session=db_session, now=now)
        if publish is not None:
            ctx.publish = publish
        result = job.fn(ctx)
        _set(db_session, f"job:{job.name}", now)
    for pk in ctx.to_submit:
        submit(pk)
    for effect in ctx.after_commit:
        effect()
    return result


class Scheduler:
    """The loop: ``tick`` now and then every interval on a daemon thread (``start``/``stop``)."""

    def __init__(self, store: Any, submit: Callable[[int], None], *, holder: str | None = None,
                 jobs: dict[str, Job] | None = None,
                 enqueue: Callable[[str], bool] | None = None,
                 publish: Callable[[dict[str, Any]], None] | None = None) -> None:  # fmt: skip
        self.store = store
        self.submit = submit
        self.publish = publish
        """Alerts a job raises (a segment's ``notify``) go to this process's stream."""
        self.enqueue = enqueue
        """With a broker: send a due job to the workers (True when the broker took it)."""
        self.holder = holder or holder_id()
        self.jobs = jobs if jobs is not None else registered()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="qc-scheduler", daemon=True)

    def due(self, job: Job, now: datetime, *, force: bool) -> bool:
        """Whether ``job`` runs (or is sent to a worker) on this tick: enabled, due, and — with a
        broker — not already in flight (sent within ``QC_TASK_VISIBILITY_SECONDS``)."""
        if not job.enabled(self.store.settings):
            return False
        if force:
            return True
        if self.enqueue is not None:
            sent = _row(self.store.session_factory, f"queued:{job.name}")
            if sent is not None and now - sent < timedelta(
                seconds=self.store.settings.task_visibility_seconds
            ):
                return False
        return is_due(job, _row(self.store.session_factory, f"job:{job.name}"), now)

    def tick(self, *, now: datetime | None = None, force: bool = False) -> TickResult:
        """Run the due jobs (``force``: every enabled one) if this process holds the lease."""
        interval = self.store.settings.sweep_interval_seconds
        if not acquire_lease(
            self.store.session_factory, SCHEDULER_LEASE, self.holder, max(interval * 2, 5.0)
        ):
            return TickResult(False)
        now = now or utcnow()
        out = TickResult(True)
        lease = max(interval * 2, 5.0)
        for name in sorted(self.jobs):
            job = self.jobs[name]
            if not self.due(job, now, force=force):
                continue
            if not acquire_lease(self.store.session_factory, SCHEDULER_LEASE, self.holder, lease):
                break  # renewed before each job: a slow job never lets a second holder in mid-tick
            try:
                if self.enqueue is not None and self.enqueue(name):
                    with write_transaction(self.store.session_factory) as db_session:
                        _set(
                            db_session, f"queued:{name}", now
                        )  # in flight; the worker marks the run
                    out.results[name] = {"enqueued": True}
                    continue
                out.results[name] = run_job(self.store, job, self.submit, now, force=force,
                                             publish=self.publish)  # fmt: skip
            except Exception as exc:  # noqa: BLE001 - one failing job must not stop the others
                log.exception("job %s failed", name)
                out.errors[name] = f"{type(exc).__name__}: {exc}"
        done = {n: r for n, r in out.results.items() if any(r.values()) and r != {"enqueued": True}}
        if done:
            log.info("scheduler: %s", "; ".join(f"{n} {r}" for n, r in sorted(done.items())))
        return out

    def start(self) -> None:
        """Begin ticking (once now, then every ``QC_SWEEP_INTERVAL_SECONDS``)."""
        self._thread.start()

    def stop(self) -> None:
        """Stop after the current tick."""
        self._stop.set()
        self._thread.join(timeout=10)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.tick()
            except Exception:  # noqa: BLE001 - a failed tick is logged and tried again next period
                log.exception("scheduler tick failed")
            self._stop.wait(self.store.settings.sweep_interval_seconds)
