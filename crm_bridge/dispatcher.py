"""Delivering committed outbox events: retries with backoff, per-customer order, dead letters.

Why claim, call, record: the row is claimed in a short transaction (``FOR UPDATE SKIP LOCKED``
on PostgreSQL; SQLite's single writer via ``write_transaction``) that counts the attempt and
reserves it for ``QC_OUTBOX_CLAIM_SECONDS``; the CRM is called with no transaction open, and the
outcome is recorded in a second one. A slow CRM therefore never holds the database's write lock
(on SQLite a 5 s call inside the transaction made every ingest wait 5 s), two dispatchers never
deliver one event at once, and a process killed between the call and the record leaves exactly
that event claimed: due again when the claim runs out, re-delivered with the same ``id`` (the
receiver's idempotency key). That is the only duplicate there is. Adapters that write our own
tables (``local``) deliver inside the recording transaction instead: exactly-once.

Ordering: an event is due only when no older event of its ``ordering_key`` (tenant:customer) is
``pending`` or ``failed``. A ``dead`` event does not block later ones (one poisoned event must not
silence a customer forever); ``replay`` makes it pending again and it is delivered next.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import logging
import signal
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from types import FrameType
from typing import Any, cast

from sqlalchemy import Select, exists, or_, select
from sqlalchemy.orm import Session, aliased, sessionmaker

from crm_bridge.adapters.base import (
    BudgetExhausted,
    CrmAdapter,
    DeliveryError,
    RetryableDeliveryError,
)
from crm_bridge.adapters.registry import AdapterPool, tenant_adapter_slug
from crm_bridge.outbox.models import OutboxEvent
from crm_bridge.outbox.outcomes import (
    Attempt,
    DispatchReport,
    log_attempt,
    record_outcome,
)
from crm_bridge.settings import BridgeSettings
from qc_service.config import get_settings
from qc_service.db.base import utcnow
from qc_service.db.session import make_engine, make_session_factory, write_transaction
from qc_service.rules.contact import mask_pii_value

log = logging.getLogger("crm_bridge.dispatcher")  # the same name under `python -m`

UNDELIVERED = ("pending", "failed")
"""Statuses still to deliver; they also hold back the same customer's later events."""


def due_events_query(now: datetime, *, exclude: Sequence[int] = ()) -> Select[OutboxEvent]:
    """Events due at ``now`` whose customer has no older undelivered event, oldest first."""
    older = aliased(OutboxEvent)
    blocked = exists().where(
        older.ordering_key == OutboxEvent.ordering_key,
        older.id < OutboxEvent.id,
        older.status.in_(UNDELIVERED),
    )
    stmt = select(OutboxEvent).where(
        OutboxEvent.status.in_(UNDELIVERED),
        or_(OutboxEvent.next_attempt_at.is_(None), OutboxEvent.next_attempt_at <= now),
        ~blocked,
    )
    if exclude:
        stmt = stmt.where(OutboxEvent.id.not_in(list(exclude)))
    return stmt.order_by(OutboxEvent.id)


@dataclass(slots=True)
class _Claim:
    """Events claimed for one call: their keys and attempt numbers, and the envelopes."""

    slug: str
    rows: list[tuple[int, int]]
    events: list[dict[str, Any]]


def _envelope(row: OutboxEvent) -> dict[str, Any]:
    # a copy (adapters cannot alter the stored envelope), PII masked (ACCESS.md: CRM payloads)
    return cast(dict[str, Any], mask_pii_value(copy.deepcopy(row.payload)))


def _following(db_session: Session, head: OutboxEvent, adapter: CrmAdapter, now: datetime,
               limit: int) -> list[OutboxEvent]:  # fmt: skip
    """The customer's next pending events the adapter coalesces with ``head`` (in order, due)."""
    rows = db_session.scalars(
        select(OutboxEvent)
        .where(OutboxEvent.ordering_key == head.ordering_key, OutboxEvent.id > head.id,
               OutboxEvent.status.in_(UNDELIVERED))
        .order_by(OutboxEvent.id).limit(limit).with_for_update(of=OutboxEvent)
    ).all()  # fmt: skip
    out: list[OutboxEvent] = []
    previous = _envelope(head)
    for row in rows:
        event = _envelope(row)
        if (row.next_attempt_at is not None and row.next_attempt_at > now) or not adapter.coalesce(
            previous, event
        ):
            break
        out.append(row)
        previous = event
    return out


def _attempt_next(
    factory: sessionmaker[Session],
    settings: BridgeSettings,
    pool: AdapterPool,
    *,
    now: datetime | None,
    exclude: Sequence[int],
) -> Attempt | None:
    at = now or utcnow()
    with write_transaction(factory) as db_session:
        claim = due_events_query(at, exclude=exclude).limit(1)
        row = db_session.scalars(claim.with_for_update(skip_locked=True, of=OutboxEvent)).first()
        if row is None:
            return None
        slug, adapter, error = "?", None, None
        try:
            slug = tenant_adapter_slug(db_session, row.tenant_id, settings)
            adapter = pool.get(slug)
        except DeliveryError as exc:
            error = exc
        rows = [row]
        if adapter is not None and not adapter.in_transaction:
            rows += _following(db_session, row, adapter, at, settings.outbox_coalesce_max - 1)
        for r in rows:
            r.attempts += 1
            r.next_attempt_at = at + timedelta(seconds=settings.outbox_claim_seconds)
        taken = _Claim(slug, [(r.id, r.attempts) for r in rows], [_envelope(r) for r in rows])
        if adapter is None or adapter.in_transaction:  # record in this same transaction
            if adapter is not None:
                error = _call(adapter, taken, db_session)
            record_outcome(row, error, settings, now or utcnow())
            attempt = _attempt_of(row, slug, error)
    if adapter is not None and not adapter.in_transaction:
        with factory() as read_session:  # no write transaction while the CRM is called
            error = _call(adapter, taken, read_session)
        attempt = _record_claim(factory, taken, error, settings, now)
    log_attempt(attempt)  # after the commit: the line never claims what the database does not hold
    return attempt


def _call(adapter: CrmAdapter, taken: _Claim, db_session: Session) -> DeliveryError | None:
    try:
        with db_session.begin_nested() if adapter.in_transaction else contextlib.nullcontext():
            if len(taken.events) == 1:
                adapter.deliver(taken.events[0], db_session=db_session)
            else:
                adapter.deliver_many(taken.events, db_session=db_session)
    except DeliveryError as exc:
        return exc
    except Exception as exc:  # an adapter bug: retried (bounded), never lost
        log.exception("CRM adapter %s raised on outbox event %s", taken.slug, taken.events[0]["id"])
        return RetryableDeliveryError(f"{type(exc).__name__}: {exc}")
    return None


def _record_claim(factory: sessionmaker[Session], taken: _Claim, error: DeliveryError | None,
                  settings: BridgeSettings, now: datetime | None) -> Attempt:  # fmt: skip
    """Record one call's outcome on every event it carried — unless a claim ran out and another
    dispatcher took the event meanwhile (its attempt number moved on): that one records."""
    first: Attempt | None = None
    with write_transaction(factory) as db_session:
        for pk, attempts in taken.rows:
            row = db_session.get(OutboxEvent, pk, with_for_update=True, populate_existing=True)
            if row is None:
                continue
            if row.attempts == attempts and row.status in UNDELIVERED:
                record_outcome(row, error, settings, now or utcnow())
            if first is None:
                first = _attempt_of(row, taken.slug, error, carried=len(taken.rows))
    assert first is not None
    return first


def _attempt_of(
    row: OutboxEvent, slug: str, error: DeliveryError | None, *, carried: int = 1
) -> Attempt:
    return Attempt(
        pk=row.id, event_id=row.event_id, event_type=row.event_type,
        ordering_key=row.ordering_key, adapter=slug, status=row.status,
        attempts=row.attempts, error=error.message if error else None,
        next_attempt_at=row.next_attempt_at, paced=isinstance(error, BudgetExhausted),
        carried=carried,
    )  # fmt: skip


def _anything_due(factory: sessionmaker[Session], now: datetime) -> bool:
    # A read-only look first: an idle outbox never takes SQLite's write lock.
    with factory() as db_session:
        query = due_events_query(now).with_only_columns(OutboxEvent.id).limit(1)
        return db_session.execute(query).first() is not None


def dispatch_once(
    session_factory: sessionmaker[Session],
    settings: BridgeSettings,
    *,
    now: datetime | None = None,
    adapters: AdapterPool | None = None,
    stop: threading.Event | None = None,
) -> DispatchReport:
    """Attempt each due event at most once (up to ``outbox_batch``), committing each outcome.

    ``now`` fixes the clock (tests); ``adapters`` reuses a pool (else one is built and closed);
    ``stop`` ends the pass early between two events.
    """
    pool = adapters if adapters is not None else AdapterPool(settings)
    report = DispatchReport()
    try:
        if not _anything_due(session_factory, now or utcnow()):
            return report
        done: list[int] = []
        while len(done) < settings.outbox_batch and not (stop is not None and stop.is_set()):
            attempt = _attempt_next(session_factory, settings, pool, now=now, exclude=done)
            if attempt is None:
                break
            report.attempts.append(attempt)
            done.append(attempt.pk)
            if attempt.paced:
                break  # the budget has no room for the next event either
    finally:
        if adapters is None:
            pool.close()
    return report


class Dispatcher:
    """A daemon thread running ``dispatch_once`` every ``outbox_poll_seconds`` (at once while a
    backlog fills whole batches, or when ``notify()`` is called after a commit)."""

    def __init__(
        self,
        session_factory: sessionmaker[Session],
        settings: BridgeSettings | None = None,
        *,
        adapters: AdapterPool | None = None,
    ) -> None:
        self.session_factory = session_factory
        self.settings = settings or BridgeSettings()
        self._owns_pool = adapters is None
        self.adapters = adapters if adapters is not None else AdapterPool(self.settings)
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start the thread (no-op if it runs)."""
        if self._thread is not None and self._thread.is_alive():
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="crm-outbox-dispatcher", daemon=True)
        self._thread.start()
        log.info("outbox dispatcher started (poll %.2fs)", self.settings.outbox_poll_seconds)

    @property
    def running(self) -> bool:
        """Whether the thread is alive."""
        return self._thread is not None and self._thread.is_alive()

    def notify(self) -> None:
        """Look for due events now instead of at the next poll."""
        self._wake.set()

    def stop(self, timeout: float = 10.0) -> None:
        """Finish the event in flight, stop the thread, close the adapters it built."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        if self._owns_pool:
            self.adapters.close()

    def _run(self) -> None:
        while not self._stop.is_set():
            backlog = False
            try:
                report = dispatch_once(
                    self.session_factory, self.settings, adapters=self.adapters, stop=self._stop
                )
                backlog = len(report.attempts) >= self.settings.outbox_batch
            except Exception:
                log.exception("outbox dispatch pass failed; next pass in %.2fs",
                              self.settings.outbox_poll_seconds)  # fmt: skip
            if not backlog:
                self._wake.wait(self.settings.outbox_poll_seconds)
                self._wake.clear()


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m crm_bridge.dispatcher [--once]`` against ``QC_DATABASE_URL`` (migrated)."""
    parser = argparse.ArgumentParser(prog="python -m crm_bridge.dispatcher")
    parser.add_argument("--once", action="store_true", help="one pass, then exit")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    engine = make_engine(get_settings().database_url)
    factory = make_session_factory(engine)
    settings = BridgeSettings()
    try:
        if args.once:
            report = dispatch_once(factory, settings)
            log.info("pass done: %d delivered, %d failed, %d dead",
                     report.delivered, report.failed, report.dead)  # fmt: skip
            return 0
        stopped = threading.Event()

        def _on_signal(_signum: int, _frame: FrameType | None) -> None:
            stopped.set()

        signal.signal(signal.SIGTERM, _on_signal)
        signal.signal(signal.SIGINT, _on_signal)
        dispatcher = Dispatcher(factory, settings)
        dispatcher.start()
        stopped.wait()
        dispatcher.stop()
        return 0
    finally:
        engine.dispose()


if __name__ == "__main__":
    raise SystemExit(main())
