"""One leased scheduler loop: at start and every ``QC_SWEEP_INTERVAL_SECONDS`` the process that
holds the ``scheduler`` lease runs the jobs that are due.

Why a lease in the database: API processes, workers and a lone ``qc scheduler`` may all run the
loop; exactly one of them works at a time, and a crashed holder's lease runs out. Each job runs in
its own transaction (a failing job is logged and retried next tick, the others still run); the
time it last ran is kept in the database (a lease row ``job:<name>``), so a daily job runs once a
day whoever holds the lease. Conversations a job hands to the deep lane are submitted after its
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
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, update
from sqlalchemy.exc import IntegrityError

from qc_service.db.base import utcnow
from qc_service.db.session import write_transaction
from qc_service.jobs.models import Lease
from qc_service.jobs.registry import Job, JobContext, registered

log = logging.getLogger(__name__)
SCHEDULER_LEASE = "scheduler"


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


def _last_run(session_factory: Any, name: str) -> datetime | None:
    with session_factory() as db_session:
        row = db_session.get(Lease, f"job:{name}")
        return row.until if row else None


def _mark_run(db_session: Any, name: str, now: datetime) -> None:
    row = db_session.get(Lease, f"job:{name}")
    if row is None:
        db_session.add(Lease(name=f"job:{name}", holder="scheduler", until=now))
    else:
        row.until = now


def run_job(store: Any, job: Job, submit: Callable[[int], None], now: datetime) -> dict[str, Any]:
    """Run one job in its own transaction; then submit the conversations it queued and run its
    after-commit effects (files to delete…)."""
    with write_transaction(store.session_factory) as db_session:
        ctx = JobContext(store=store, db_session=db_session, now=now)
        result = job.fn(ctx)
        _mark_run(db_session, job.name, now)
    for pk in ctx.to_submit:
        submit(pk)
    for effect in ctx.after_commit:
        effect()
    return result


class Scheduler:
    """The loop: ``tick`` now and then every interval on a daemon thread (``start``/``stop``)."""

    def __init__(self, store: Any, submit: Callable[[int], None], *, holder: str | None = None,
                 jobs: dict[str, Job] | None = None,
                 enqueue: Callable[[str], bool] | None = None) -> None:  # fmt: skip
        self.store = store
        self.submit = submit
        self.enqueue = enqueue
        """With a broker: send a due job to the workers (True when the broker took it)."""
        self.holder = holder or holder_id()
        self.jobs = jobs if jobs is not None else registered()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="qc-scheduler", daemon=True)

    def due(self, job: Job, now: datetime, *, force: bool) -> bool:
        """Whether ``job`` runs on this tick."""
        if not job.enabled(self.store.settings):
            return False
        if force or job.every is None:
            return True
        last = _last_run(self.store.session_factory, job.name)
        return last is None or now - last >= timedelta(seconds=job.every)

    def tick(self, *, now: datetime | None = None, force: bool = False) -> TickResult:
        """Run the due jobs (``force``: every enabled one) if this process holds the lease."""
        interval = self.store.settings.sweep_interval_seconds
        if not acquire_lease(
            self.store.session_factory, SCHEDULER_LEASE, self.holder, max(interval * 2, 5.0)
        ):
            return TickResult(False)
        now = now or utcnow()
        out = TickResult(True)
        for name in sorted(self.jobs):
            job = self.jobs[name]
            if not self.due(job, now, force=force):
                continue
            try:
                if self.enqueue is not None and self.enqueue(name):
                    with write_transaction(self.store.session_factory) as db_session:
                        _mark_run(db_session, name, now)  # due again only after its period
                    out.results[name] = {"enqueued": True}
                    continue
                out.results[name] = run_job(self.store, job, self.submit, now)
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
