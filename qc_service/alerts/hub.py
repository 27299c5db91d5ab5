"""Fan alerts out to every open stream: in-process, or through Redis pub/sub across processes.

Why a hub: alerts are published after the ingest transaction commits, from whatever thread served
the request, while SSE clients wait on the event loop. ``publish`` is thread-safe and never
blocks on slow clients (a full client queue drops that client's oldest alert). With
``QC_BROKER_URL`` set, every API process relays Redis messages to its own clients, so any process
can serve the stream whichever process took the message.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import threading
from collections.abc import AsyncIterator
from typing import Any

import redis
import redis.asyncio as aioredis

log = logging.getLogger(__name__)
CHANNEL = "qc:alerts"
QUEUE_SIZE = 1000


class LocalHub:
    """Subscribers of this process."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._subscribers: set[tuple[asyncio.AbstractEventLoop, asyncio.Queue[dict[str, Any]]]] = (
            set()
        )

    def deliver(self, event: dict[str, Any]) -> None:
        """Hand an event to every subscriber of this process (any thread)."""
        with self._lock:
            targets = list(self._subscribers)
        for loop, queue in targets:
            with contextlib.suppress(RuntimeError):  # the client's loop is gone
                loop.call_soon_threadsafe(_put_dropping_oldest, queue, event)

    def publish(self, event: dict[str, Any]) -> None:
        """Publish to the subscribers (this process only)."""
        self.deliver(event)

    @contextlib.asynccontextmanager
    async def subscribe(self) -> AsyncIterator[asyncio.Queue[dict[str, Any]]]:
        """A queue that receives every event published while the context is open."""
        entry = (asyncio.get_running_loop(), asyncio.Queue[dict[str, Any]](maxsize=QUEUE_SIZE))
        with self._lock:
            self._subscribers.add(entry)
        try:
            yield entry[1]
        finally:
            with self._lock:
                self._subscribers.discard(entry)

    async def start(self) -> None:
        """Nothing to start in-process."""

    async def stop(self) -> None:
        """Nothing to stop in-process."""


def _put_dropping_oldest(queue: asyncio.Queue[dict[str, Any]], event: dict[str, Any]) -> None:
    if queue.full():
        queue.get_nowait()
    queue.put_nowait(event)


class RedisHub(LocalHub):
    """Publishes through Redis; a relay task delivers every Redis message to local subscribers."""

    def __init__(self, url: str) -> None:
        super().__init__()
        self.url = url
        self._client = redis.Redis.from_url(url)
        self._relay: asyncio.Task[None] | None = None
        self._ready = asyncio.Event()

    def publish(self, event: dict[str, Any]) -> None:
        """Publish to every API process subscribed to the channel."""
        try:
            self._client.publish(CHANNEL, json.dumps(event, ensure_ascii=False))
        except redis.RedisError:
            log.exception(
                "alert %s not published through Redis; delivering locally", event.get("id")
            )
            self.deliver(event)

    async def start(self) -> None:
        """Start relaying (waits until the subscription is active)."""
        self._relay = asyncio.create_task(self._run())
        await asyncio.wait_for(self._ready.wait(), timeout=10)

    async def stop(self) -> None:
        """Stop relaying."""
        if self._relay is not None:
            self._relay.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._relay
        self._client.close()

    async def _run(self) -> None:
        while True:
            client = aioredis.Redis.from_url(self.url)
            try:
                async with client.pubsub() as pubsub:
                    await pubsub.subscribe(CHANNEL)
                    self._ready.set()
                    async for message in pubsub.listen():
                        if message.get("type") == "message":
                            self.deliver(json.loads(message["data"]))
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - keep relaying through Redis restarts
                log.exception("alert relay lost Redis; reconnecting")
                self._ready.set()
                await asyncio.sleep(1.0)
            finally:
                await client.aclose()


def make_hub(broker_url: str | None) -> LocalHub:
    """Redis hub when a broker is configured, else in-process."""
    return RedisHub(broker_url) if broker_url else LocalHub()
