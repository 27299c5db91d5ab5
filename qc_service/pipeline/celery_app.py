"""The Celery app of the deep lane (a factory: no broker is touched at import).

Why these settings: ``acks_late`` + ``task_reject_on_worker_lost`` keep a task in Redis until a
worker finished it, so a killed worker's task is delivered again after the visibility timeout
(``QC_TASK_VISIBILITY_SECONDS``, sized to the slowest analysis, short in tests); prefetch 1 keeps
one slow conversation from holding others hostage. The sweep remains the real guarantee.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import redis
from celery import Celery, Task

from qc_service.alerts.hub import RedisHub
from qc_service.config import Settings
from qc_service.db.base import utcnow
from qc_service.jobs.registry import registered
from qc_service.jobs.scheduler import run_job
from qc_service.pipeline.asr import transcription_due
from qc_service.pipeline.lanes import JOB_TASK, SENT_AT, TASK_NAME, CeleryLane
from qc_service.pipeline.service import mark_failed, run_analysis
from qc_service.store import Store

log = logging.getLogger(__name__)


def create_celery(settings: Settings) -> Celery:
    """A Celery app for ``settings.broker_url`` (tasks are registered by ``register_tasks``)."""
    app = Celery("qc_service", broker=settings.broker_url, set_as_current=False)
    app.conf.update(
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        task_ignore_result=True,
        worker_prefetch_multiplier=1,
        task_default_queue=settings.celery_queue,
        broker_transport_options={"visibility_timeout": settings.task_visibility_seconds},
        broker_connection_retry_on_startup=True,
        worker_hijack_root_logger=False,
        task_serializer="json",
        accept_content=["json"],
    )
    return app


PING_TASK = "qc.pipeline.ping"
PING_KEY = "qc:ping:latency"
HOP_KEY = "qc:metrics:queue_hop_seconds"
"""Redis list of the latest deep-lane queue hops (queued → started), newest last, capped."""
HOP_KEEP = 10_000


def record_hop(broker_url: str | None, seconds: float) -> None:
    """Keep the queue-hop metric (best effort: a metric never fails a task)."""
    if not broker_url:
        return
    try:
        with redis.Redis.from_url(broker_url) as client:
            client.rpush(HOP_KEY, seconds)
            client.ltrim(HOP_KEY, -HOP_KEEP, -1)
    except redis.RedisError:
        log.warning("queue-hop metric not recorded")


def register_tasks(app: Celery, store: Store) -> None:
    """Register the deep-lane task, bound to this worker process's store, and ``ping``."""
    settings = store.settings
    hub = RedisHub(
        settings.broker_url or ""
    )  # publish only: alerts of rules only the deep lane decides

    @app.task(name=PING_TASK, ignore_result=True)
    def ping(sent_at: float) -> None:
        """A no-op through the same queue and worker: records its hop (seconds) in Redis, the
        baseline ``make bench`` compares the deep-lane task's hop with."""
        with redis.Redis.from_url(settings.broker_url or "") as client:
            client.rpush(PING_KEY, time.time() - sent_at)

    @app.task(name=JOB_TASK, ignore_result=True, acks_late=True)
    def run_periodic_job(name: str) -> None:
        """One periodic job, sent by the scheduler's lease holder; jobs are idempotent."""
        job = registered().get(name)
        if job is None:
            log.error("no job named %s in this worker (is it an older version?)", name)
            return
        run_job(store, job, CeleryLane(app, settings.celery_queue).submit, utcnow(),
                publish=hub.publish)  # fmt: skip

    @app.task(name=TASK_NAME, bind=True, acks_late=True, max_retries=settings.task_max_retries)
    def analyze_conversation(self: Task, conversation_id: int) -> None:
        """Thin and id-only: the service does the work in its own transaction; re-runs are idempotent."""
        sent_at = getattr(self.request, SENT_AT, None) or (self.request.headers or {}).get(SENT_AT)
        if sent_at is not None:
            record_hop(settings.broker_url, time.time() - float(sent_at))
        queue = (self.request.delivery_info or {}).get("routing_key")
        if queue != settings.asr_queue and transcription_due(
            store.session_factory, conversation_id
        ):
            # a call to transcribe takes minutes: its own queue, so chats are not held behind it
            self.app.send_task(TASK_NAME, args=[conversation_id], queue=settings.asr_queue,
                               headers={SENT_AT: time.time()})  # fmt: skip
            return
        try:
            alerts: list[dict[str, Any]] = []
            run_analysis(
                session_factory=store.session_factory, conversation_pk=conversation_id,
                delay=settings.debug_task_delay_seconds, alerts=alerts, settings=settings,
            )  # fmt: skip
            for event in alerts:
                hub.publish(event)
        except Exception as exc:
            if self.request.retries >= settings.task_max_retries:
                mark_failed(
                    session_factory=store.session_factory,
                    conversation_pk=conversation_id,
                    error=exc,
                )
                return
            log.warning(
                "conversation %s: %s; retry %d", conversation_id, exc, self.request.retries + 1
            )
            raise self.retry(exc=exc, countdown=min(2**self.request.retries, 30)) from exc
