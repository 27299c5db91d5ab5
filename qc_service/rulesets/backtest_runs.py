"""Background backtests of a draft (the rule editor's 回测) and the gate they put on publishing.

Why stored runs: the editor polls a run's progress, may cancel it, and 发布 is allowed only when
a *finished* run exists for the exact draft being published (its hash), so a draft that was
edited after its backtest cannot be published unseen. The run itself is in-process (one thread
of the serving process); a process that dies mid-run leaves a run that stops beating, which
reads as ``failed`` ("interrupted") and can simply be started again. Nothing is written but the
run's own row: the backtest writes nothing else (``history.run_backtest``).
"""

from __future__ import annotations

import hashlib
import logging
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from qc_service.db.base import utcnow
from qc_service.db.session import write_transaction
from qc_service.errors import BacktestRequired, NotFound
from qc_service.rulesets import authoring, history
from qc_service.rulesets.models import BacktestRun

log = logging.getLogger(__name__)
_executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="backtest")
BEAT_SECONDS = 0.5
"""Progress is written (and cancellation read) at most this often."""
STALE = timedelta(minutes=2)
"""A running run whose row has not moved for this long died with its process."""


def draft_hash(text: str) -> str:
    """The hash a backtest and a publish compare: line endings and outer blank lines normalised
    (a browser's textarea sends CRLF)."""
    norm = text.replace("\r\n", "\n").strip() + "\n"
    return hashlib.sha256(norm.encode("utf-8")).hexdigest()


def start(
    factory: sessionmaker[Session], *, tenant_id: str, text: str, actor: str,
    since: datetime | None = None, background: bool = True,
) -> BacktestRun:  # fmt: skip
    """Validate the draft, store a run and start it (``background=False``: run it here)."""
    draft = authoring.load_draft(text)
    run = BacktestRun(id=uuid.uuid4().hex, tenant_id=tenant_id, draft=text,
                      draft_hash=draft_hash(text), rule_ids=[r.id for r in draft.rules],
                      status="running", total=0, done=0, cancel_requested=False, created_by=actor)  # fmt: skip
    with write_transaction(factory) as db:
        run.total = history.count_history(db_session=db, tenant_id=tenant_id, since=since)
        db.add(run)
    if background:
        _executor.submit(execute, factory, run.id, since)
    else:
        execute(factory, run.id, since)
    return run


def execute(factory: sessionmaker[Session], run_id: str, since: datetime | None = None) -> None:
    """Run one stored backtest to its end, writing progress; never raises (the row says why)."""
    with factory() as db:
        run = db.get(BacktestRun, run_id)
        if run is None or run.status != "running":
            return
        tenant_id, text = run.tenant_id, run.draft
    last = 0.0

    def progress(done: int) -> None:
        nonlocal last
        now = time.monotonic()
        if now - last < BEAT_SECONDS:
            return
        last = now
        with write_transaction(factory) as db:
            db.execute(update(BacktestRun).where(BacktestRun.id == run_id)
                       .values(done=done, updated_at=utcnow()))  # fmt: skip
            if db.scalar(select(BacktestRun.cancel_requested).where(BacktestRun.id == run_id)):
                raise KeyboardInterrupt  # the backtest core stops and reports ``complete: false``

    try:
        report = history.run_backtest(factory, tenant_id=tenant_id, draft=authoring.load_draft(text),
                                      rule_ids=None, since=since, progress=progress)  # fmt: skip
        values = {"status": "finished" if report.complete else "cancelled",
                  "result": report.to_dict(), "done": report.conversations}  # fmt: skip
    except Exception as exc:  # noqa: BLE001 — any failure is the run's visible state
        log.exception("backtest %s failed", run_id)
        values = {"status": "failed", "error": f"{type(exc).__name__}: {exc}"}
    with write_transaction(factory) as db:
        db.execute(update(BacktestRun).where(BacktestRun.id == run_id)
                   .values(**values, finished_at=utcnow()))  # fmt: skip


def get(db: Session, *, tenant_id: str, run_id: str) -> BacktestRun:
    """A run of the tenant, with a run whose process died shown as failed."""
    run = db.get(BacktestRun, run_id)
    if run is None or run.tenant_id != tenant_id:
        raise NotFound(f"backtest {run_id!r} not found", field="run_id")
    if run.status == "running" and utcnow() - run.updated_at > STALE:
        run.status, run.error = "failed", "interrupted: the serving process stopped"
    return run


def cancel(factory: sessionmaker[Session], *, tenant_id: str, run_id: str) -> None:
    """Ask a running backtest to stop (it stops at its next progress beat)."""
    with write_transaction(factory) as db:
        run = get(db, tenant_id=tenant_id, run_id=run_id)
        if run.status == "running":
            run.cancel_requested = True


def finished_for(db: Session, *, tenant_id: str, text: str) -> BacktestRun | None:
    """The newest finished, complete backtest of exactly this draft."""
    return db.scalars(
        select(BacktestRun)
        .where(BacktestRun.tenant_id == tenant_id, BacktestRun.draft_hash == draft_hash(text),
               BacktestRun.status == "finished")
        .order_by(BacktestRun.created_at.desc()).limit(1)
    ).first()  # fmt: skip


def publish_checked(
    db: Session, *, tenant_id: str, text: str, actor: str
) -> list[tuple[str, int, bool]]:
    """Publish a draft only if a finished backtest matches it (UI.md: 发布 is gated)."""
    if finished_for(db, tenant_id=tenant_id, text=text) is None:
        raise BacktestRequired(
            "publish needs a finished backtest of exactly this draft: run 回测 first", field="yaml"
        )
    return authoring.publish_text(db_session=db, tenant_id=tenant_id, text=text, source="web",
                                  actor=actor)  # fmt: skip
