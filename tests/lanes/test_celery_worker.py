"""The deep lane on a real ``qc worker`` over the real Redis: it runs there, a worker killed with
``kill -9`` mid-task loses nothing (the run is repeated, findings are not duplicated), and a Redis
flushed while work was queued is recovered by the sweep."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import redis
import soundfile as sf
from factories import record
from servers import Worker, wait_until
from sqlalchemy import select

from qc_service.alerts.hub import LocalHub
from qc_service.audio.asr_model import assemble
from qc_service.config import Settings
from qc_service.conversations.models import Conversation
from qc_service.ingest.live import ingest_record
from qc_service.pipeline.celery_app import create_celery
from qc_service.pipeline.lanes import CeleryLane
from qc_service.review.models import Evidence, Violation
from qc_service.runtime import Runtime
from qc_service.store import Store, open_store

pytestmark = pytest.mark.services

RECEIVED = "Task qc.pipeline.analyze_conversation["


def _settings(db_url: str, redis_url: str, queue: str, **extra: object) -> Settings:
    extra.setdefault("asr_queue", f"{queue}-asr")  # a test's own, like its chat queue
    return Settings(database_url=db_url, broker_url=redis_url, celery_queue=queue, task_visibility_seconds=3,
                    sweep_interval_seconds=1, **extra)  # type: ignore[arg-type]  # fmt: skip


def _env(settings: Settings, **extra: str) -> dict[str, str]:
    env = {
        "QC_DATABASE_URL": settings.database_url, "QC_BROKER_URL": settings.broker_url or "",
        "QC_CELERY_QUEUE": settings.celery_queue, "QC_TASK_VISIBILITY_SECONDS": str(settings.task_visibility_seconds),
        "QC_SWEEP_INTERVAL_SECONDS": str(settings.sweep_interval_seconds), "OMP_NUM_THREADS": "1",
        "QC_ASR_QUEUE": settings.asr_queue, "QC_DATA_DIR": str(settings.data_dir), "QC_ASR_MODEL": settings.asr_model,
    }  # fmt: skip
    return {**env, **extra}


@pytest.fixture
def runtime(db_url: str, redis_url: str, queue_name: str) -> Iterator[Runtime]:
    settings = _settings(db_url, redis_url, queue_name)
    store = open_store(settings)
    try:
        yield Runtime(store, CeleryLane(create_celery(settings), queue_name), LocalHub())
    finally:
        store.close()


@pytest.fixture
def workers(tmp_path: Path) -> Iterator[list[Worker]]:
    started: list[Worker] = []
    yield started
    for w in started:
        w.stop()


def _conv(store: Store, rid: str) -> Conversation:
    with store.session_factory() as s:
        return s.scalars(select(Conversation).where(Conversation.external_id == rid)).one()


def _findings(store: Store) -> list[tuple[str, list[str | None]]]:
    with store.session_factory() as s:
        return [
            (
                v.rule_id,
                [
                    e.text
                    for e in s.scalars(
                        select(Evidence).where(Evidence.violation_id == v.id).order_by(Evidence.id)
                    )
                ],
            )
            for v in s.scalars(select(Violation).order_by(Violation.rule_id))
        ]


RED = record(
    "w1",
    ("m1", "customer", "收益怎么样"),
    ("m2", "agent", "这个稳.赚.不.赔"),
    ("m3", "agent", "加我vx: wang_li88"),
)
EXPECTED = [
    ("redline.guaranteed-returns", ["稳.赚.不.赔"]),
    ("redline.private-contact", ["加我vx", "wang_li88"]),
]


def test_deep_lane_runs_on_the_worker(
    runtime: Runtime, workers: list[Worker], tmp_path: Path
) -> None:
    assert ingest_record(runtime, RED).status == "accepted"
    assert _conv(runtime.store, "w1").status == "pending"
    workers.append(Worker(_env(runtime.store.settings), tmp_path / "worker.log"))
    wait_until(lambda: _conv(runtime.store, "w1").status == "analysed", 60, "the worker's analysis")
    assert _findings(runtime.store) == EXPECTED
    assert RECEIVED in workers[0].output()


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_worker_killed_mid_task_loses_nothing(
    runtime: Runtime, workers: list[Worker], tmp_path: Path
) -> None:
    settings = runtime.store.settings
    ingest_record(runtime, RED)
    slow = Worker(_env(settings, QC_DEBUG_TASK_DELAY_SECONDS="30"), tmp_path / "slow.log")
    workers.append(slow)
    slow.wait_for_output(RECEIVED, 60)
    slow.kill()  # kill -9 while the task sleeps before analysing
    assert _conv(runtime.store, "w1").status == "pending"
    workers.append(Worker(_env(settings), tmp_path / "second.log"))
    wait_until(
        lambda: _conv(runtime.store, "w1").status == "analysed", 60, "the re-run after kill -9"
    )
    assert _findings(runtime.store) == EXPECTED
    # a later duplicate delivery (Redis restoring the unacked task) changes nothing
    from qc_service.pipeline.service import analyze_conversation

    analyze_conversation(
        session_factory=runtime.store.session_factory, conversation_pk=_conv(runtime.store, "w1").id
    )
    assert _findings(runtime.store) == EXPECTED


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_redis_flushed_while_queued_is_recovered_by_the_sweep(
    runtime: Runtime, workers: list[Worker], tmp_path: Path, redis_url: str
) -> None:
    ingest_record(runtime, RED)
    client = redis.Redis.from_url(redis_url)
    assert client.llen(runtime.store.settings.celery_queue) == 1
    client.flushdb()  # the queued task is gone
    client.close()
    workers.append(Worker(_env(runtime.store.settings), tmp_path / "worker.log"))
    wait_until(lambda: _conv(runtime.store, "w1").status == "analysed", 60, "the sweep's re-queue")
    assert _findings(runtime.store) == EXPECTED
    assert RECEIVED in workers[0].output()  # after the flush only the sweep could have queued it


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_due_jobs_are_celery_tasks_run_by_a_worker(
    runtime: Runtime, workers: list[Worker], tmp_path: Path
) -> None:
    from datetime import timedelta

    from sqlalchemy import update

    from qc_service.db.base import utcnow
    from qc_service.pipeline.files import ingest_one

    assert ingest_one(runtime.store, RED, final=True).conversation_status == "analysed"
    with runtime.store.session_factory() as s, s.begin():  # the appeal window closed a day ago
        s.execute(update(Violation).values(created_at=utcnow() - timedelta(days=8)))
    workers.append(Worker(_env(runtime.store.settings), tmp_path / "worker.log"))

    def statuses() -> set[str]:
        with runtime.store.session_factory() as s:
            return set(s.scalars(select(Violation.status)))

    wait_until(lambda: statuses() == {"confirmed"}, 60, "review.confirm_expired on the worker")
    assert "Task qc.jobs.run[" in workers[0].output()  # enqueued by the scheduler, run as a task


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_a_call_to_transcribe_is_forwarded_to_the_asr_queue_and_transcribed(
    db_url: str, redis_url: str, queue_name: str, workers: list[Worker], tmp_path: Path
) -> None:
    data = tmp_path / "data"
    (data / "default").mkdir(parents=True)
    clip, rate = sf.read(Path(__file__).parents[1] / "data" / "audio" / "funasr_asr_example_zh.wav")
    call = np.random.default_rng(2).normal(0, 0.0005, (clip.size + 2 * rate, 2))
    call[rate : rate + clip.size, 0] += clip
    sf.write(data / "default" / "bare.wav", call.astype(np.float32), rate, subtype="PCM_16")
    settings = _settings(db_url, redis_url, queue_name, data_dir=data,
                         asr_model=str(assemble(tmp_path / "model")))  # fmt: skip
    store = open_store(settings)
    try:
        runtime = Runtime(store, CeleryLane(create_celery(settings), queue_name), LocalHub())
        rec = {"id": "bare-w1", "channel": "call", "employee": {"id": "e1"}, "customer": {"id": "u1"},
               "closed": True, "call": {"audio": "default/bare.wav", "channels": {"agent": 0, "customer": 1}}}  # fmt: skip
        assert ingest_record(runtime, rec).status == "accepted"
        workers.append(Worker(_env(settings), tmp_path / "worker.log"))
        wait_until(
            lambda: _conv(store, "bare-w1").status == "analysed", 120, "the transcribed analysis"
        )
        with store.session_factory() as s:
            conv = s.scalars(
                select(Conversation).where(Conversation.external_id == "bare-w1")
            ).one()
            said = [(m.external_id, m.role, (m.extra or {}).get("source")) for m in conv.messages]
            texts = "".join(m.text for m in conv.messages)
        assert said == [("seg-0", "agent", "asr")] and "欢迎大家" in texts
        # received on the chat queue, forwarded, received again on the asr queue
        assert len(re.findall(r"analyze_conversation\[[^\]]+\] received", workers[0].output())) == 2
    finally:
        store.close()
