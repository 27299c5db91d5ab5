"""The deep lane's front door: hand a conversation id to whoever runs deep analysis.

Why two implementations behind one call: without ``QC_BROKER_URL`` the embedded default runs the
same service in-process on a worker thread (off the request thread); with a broker, the id goes to
Celery and ``qc worker`` processes run it. Either way the database, not the queue, is the record
of what still needs analysing: a lost submission is found again by the sweep.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from celery import Celery
from sqlalchemy.orm import Session

from qc_service.pipeline.asr import transcription_due
from qc_service.pipeline.hot import run_hot_lane
from qc_service.pipeline.service import run_deep
from qc_service.store import Store

log = logging.getLogger(__name__)
TASK_NAME = "qc.pipeline.analyze_conversation"
JOB_TASK = "qc.jobs.run"
"""The Celery task that runs one registered periodic job by name on a worker."""
SENT_AT = "qc_sent_at"
"""Message header: when the task was queued (the worker records the queue hop as a metric)."""


class HotLane:
    """The hot lane as the ``runtime.Lane`` interface offers it to the ingest domain (the two
    implementations below are that interface: hot lane here, deep runs their own way)."""

    def hot(
        self, *, db_session: Session, conv: Any, new_message_ids: set[str]
    ) -> list[dict[str, Any]]:
        """Hot rules on the new messages, in the caller's transaction (``pipeline.hot``)."""
        return run_hot_lane(db_session=db_session, conv=conv, new_message_ids=new_message_ids)


class InProcessLane(HotLane):
    """Runs deep analysis on one background thread of this process."""

    def __init__(
        self, store: Store, publish: Callable[[dict[str, Any]], None] | None = None
    ) -> None:
        self.store = store
        self.publish = publish
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="qc-deep")
        self._asr_pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="qc-asr")
        self._futures: set[Future[None]] = set()

    def submit(self, conversation_pk: int) -> None:
        self._track(self._pool.submit(self._run, conversation_pk))

    def _run(self, conversation_pk: int) -> None:
        """A call still to transcribe moves to the transcription thread (chats keep flowing)."""
        if transcription_due(self.store.session_factory, conversation_pk):
            self._track(self._asr_pool.submit(run_deep, self.store, conversation_pk, self.publish))
            return
        run_deep(self.store, conversation_pk, self.publish)

    def _track(self, future: Future[None]) -> None:
        self._futures.add(future)
        future.add_done_callback(self._futures.discard)

    def drain(self) -> None:
        """Wait for everything submitted so far, forwarded runs included (tests, shutdown)."""
        while self._futures:
            for future in list(self._futures):
                future.result()

    def close(self) -> None:
        self._pool.shutdown(wait=True)
        self._asr_pool.shutdown(wait=True)


class CeleryLane(HotLane):
    """Sends the id to the Celery queue; ``qc worker`` runs it."""

    def __init__(self, app: Celery, queue: str) -> None:
        self.app = app
        self.queue = queue

    def submit(self, conversation_pk: int) -> None:
        try:
            self.app.send_task(
                TASK_NAME, args=[conversation_pk], queue=self.queue, headers={SENT_AT: time.time()}
            )
        except Exception:  # noqa: BLE001 - the conversation stays pending; the sweep re-queues it
            log.exception(
                "could not queue conversation %s; the sweep will pick it up", conversation_pk
            )

    def send_job(self, name: str) -> bool:
        """Queue a due periodic job for a worker; False when the broker refused (run it here)."""
        try:
            self.app.send_task(JOB_TASK, args=[name], queue=self.queue)
        except Exception:  # noqa: BLE001 - the scheduler runs the job in-process instead
            log.exception("could not queue job %s; running it in this process", name)
            return False
        return True

    def close(self) -> None:
        return None
