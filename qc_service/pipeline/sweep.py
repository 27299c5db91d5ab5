"""The sweep: the database's guarantee that nothing stored is left unanalysed.

Why: a queue can lose a task (a worker killed before it acked, Redis flushed or restarted); the
database cannot. Periodically — and at start-up — one process (holding the ``sweep`` lease)
re-queues every pending conversation whose lease has run out, and closes chats idle for
``QC_SESSION_IDLE_MINUTES`` so their final run happens.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError

from qc_service.conversations.models import Conversation
from qc_service.db.base import utcnow
from qc_service.db.session import write_transaction
from qc_service.pipeline.models import Lease
from qc_service.review.flows import confirm_expired
from qc_service.rulesets.authoring import promote_due
from qc_service.store import Store

log = logging.getLogger(__name__)
SWEEP_LEASE = "sweep"
BATCH = 500


@dataclass(slots=True)
class SweepResult:
    """What one sweep did (None fields: another process holds the lease)."""

    ran: bool
    requeued: list[int]
    closed: list[int]


def holder_id() -> str:
    """This process, as a lease holder."""
    return f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"


def acquire_lease(store: Store, name: str, holder: str, seconds: float) -> bool:
    """Take (or renew) a named lease; False while another holder's lease is still valid."""
    now = utcnow()
    until = now + timedelta(seconds=seconds)
    try:
        with write_transaction(store.session_factory) as db_session:
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


def sweep(store: Store, submit: Callable[[int], None], *, holder: str | None = None) -> SweepResult:
    """Re-queue stuck conversations and close idle chats, if this process holds the lease."""
    settings = store.settings
    holder = holder or holder_id()
    if not acquire_lease(store, SWEEP_LEASE, holder, max(settings.sweep_interval_seconds * 2, 5.0)):
        return SweepResult(False, [], [])
    now = utcnow()
    lease = timedelta(seconds=settings.task_visibility_seconds)
    idle_before = now - timedelta(minutes=settings.session_idle_minutes)
    with write_transaction(store.session_factory) as db_session:
        idle = db_session.scalars(
            select(Conversation)
            .where(Conversation.closed.is_(False), Conversation.last_message_at < idle_before)
            .limit(BATCH)
        ).all()
        for conv in idle:
            conv.closed = True
            conv.status = "pending"
            conv.revision = (conv.revision or 0) + 1
            conv.lease_until = now + lease
        stuck = db_session.scalars(
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
        promote_due(db_session=db_session, now=now)
        confirmed = confirm_expired(
            db_session=db_session, window_days=settings.appeal_window_days, now=now
        )
        closed_ids = [c.id for c in idle]
        requeued = [c.id for c in stuck if c.id not in closed_ids]
    for pk in closed_ids + requeued:
        submit(pk)
    if closed_ids or requeued or confirmed:
        log.info(
            "sweep: closed %d idle chats, re-queued %d stuck conversations, confirmed %d violations",
            len(closed_ids), len(requeued), len(confirmed),
        )  # fmt: skip
    return SweepResult(True, requeued, closed_ids)


class Sweeper:
    """Runs ``sweep`` at start and then every ``sweep_interval_seconds`` on a daemon thread."""

    def __init__(self, store: Store, submit: Callable[[int], None]) -> None:
        self.store = store
        self.submit = submit
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="qc-sweeper", daemon=True)
        self.holder = holder_id()

    def start(self) -> None:
        """Begin sweeping."""
        self._thread.start()

    def stop(self) -> None:
        """Stop after the current sweep."""
        self._stop.set()
        self._thread.join(timeout=10)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                sweep(self.store, self.submit, holder=self.holder)
            except Exception:  # noqa: BLE001 - a failed sweep is logged and tried again next period
                log.exception("sweep failed")
            self._stop.wait(self.store.settings.sweep_interval_seconds)
