"""How every process starts: ``build_process(settings, role)`` for serve, worker, scheduler and
dispatcher.

Why one place: the API's lifespan and the CLI commands used to wire the store, the deep lane, the
alert hub, the sweep and the CRM dispatcher by hand, each a little differently. A process is now
one of four roles; each role says which of those parts it runs, and tests build the same thing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from crm_bridge.dispatcher import Dispatcher
from crm_bridge.settings import BridgeSettings
from qc_service.alerts.hub import LocalHub, make_hub
from qc_service.config import Settings
from qc_service.conversations import jobs as conversations_jobs
from qc_service.jobs.scheduler import Scheduler
from qc_service.pipeline import jobs as pipeline_jobs
from qc_service.pipeline.celery_app import create_celery
from qc_service.pipeline.lanes import CeleryLane, InProcessLane
from qc_service.pipeline.service import warm_up
from qc_service.retention import jobs as retention_jobs
from qc_service.review import jobs as review_jobs
from qc_service.rulesets import jobs as rulesets_jobs
from qc_service.runtime import Lane, Runtime
from qc_service.segments import jobs as segments_jobs
from qc_service.store import Store, open_store
from qc_service.web.masking import install_log_masking

ProcessRole = Literal["serve", "worker", "scheduler", "dispatcher"]
JOB_MODULES = (conversations_jobs, pipeline_jobs, rulesets_jobs, review_jobs, retention_jobs,
               segments_jobs)  # fmt: skip
"""Every domain's ``jobs`` module: importing them fills the job registry."""
_PARTS: dict[str, tuple[bool, bool, bool]] = {
    # role: (deep lane + hub, scheduler loop, CRM dispatcher)
    "serve": (True, True, True),
    "worker": (False, True, True),
    "scheduler": (False, True, False),
    "dispatcher": (False, False, True),
}


def make_runtime(store: Store) -> Runtime:
    """In-process deep lane and hub by default; Celery and Redis pub/sub with ``QC_BROKER_URL``."""
    settings = store.settings
    hub = make_hub(settings.broker_url)
    lane: Lane
    if settings.broker_url:
        lane = CeleryLane(create_celery(settings), settings.celery_queue)
    else:
        lane = InProcessLane(store, hub.publish)
    return Runtime(store, lane, hub)


@dataclass(slots=True)
class Process:
    """The parts one process runs; ``start``/``stop`` in the right order."""

    role: str
    store: Store
    owns_store: bool
    runtime: Runtime | None = None
    scheduler: Scheduler | None = None
    dispatcher: Dispatcher | None = None
    own_lane: Lane | None = None
    """A lane built only for the scheduler's re-queues (``qc scheduler`` without a broker)."""

    @property
    def hub(self) -> LocalHub | None:
        """The alert hub (serving processes only)."""
        return self.runtime.hub if self.runtime else None

    def start(self) -> None:
        """Start the background parts (the hub's start is async: ``start_async``)."""
        if self.scheduler is not None:
            self.scheduler.start()
        if self.dispatcher is not None:
            self.dispatcher.start()

    async def start_async(self) -> None:
        """Start the hub (serving processes), then the threads."""
        if self.runtime is not None:
            await self.runtime.hub.start()
        self.start()

    def stop(self) -> None:
        """Stop the threads, close the lane, release the store if this process opened it."""
        if self.dispatcher is not None:
            self.dispatcher.stop()
        if self.scheduler is not None:
            self.scheduler.stop()
        for lane in (self.runtime.lane if self.runtime else None, self.own_lane):
            if lane is not None:
                lane.close()
        if self.owns_store:
            self.store.close()

    async def stop_async(self) -> None:
        """``stop``, then the hub."""
        self.stop()
        if self.runtime is not None:
            await self.runtime.hub.stop()


def build_process(
    settings: Settings,
    role: ProcessRole,
    *,
    store: Store | None = None,
    submit: Lane | None = None,
) -> Process:
    """Open (and migrate) the store, warm the analysis up where analysis runs (serve, worker) and
    build what ``role`` runs. ``submit``: the lane the scheduler re-queues onto when the process
    has no serving lane (a worker passes its Celery lane).
    ``QC_SCHEDULER=off`` keeps the scheduler loop out of this process."""
    install_log_masking()
    owns = store is None
    store = store or open_store(settings)
    with_lane, with_scheduler, with_dispatcher = _PARTS[role]
    process = Process(role=role, store=store, owns_store=owns)
    if role in ("serve", "worker"):
        warm_up(store)
    if with_lane:
        process.runtime = make_runtime(store)
    lane = process.runtime.lane if process.runtime else submit
    if with_scheduler and settings.scheduler:
        if lane is None:
            lane = process.own_lane = (
                CeleryLane(create_celery(settings), settings.celery_queue)
                if settings.broker_url
                else InProcessLane(store, lambda _event: None)
            )
        enqueue = lane.send_job if isinstance(lane, CeleryLane) else None
        hub = process.hub or (make_hub(settings.broker_url) if settings.broker_url else None)
        process.scheduler = Scheduler(store, lane.submit, enqueue=enqueue,
                                      publish=hub.publish if hub is not None else None)  # fmt: skip
    if with_dispatcher:
        process.dispatcher = Dispatcher(store.session_factory, BridgeSettings())
    return process
