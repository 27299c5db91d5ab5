"""Real processes for integration tests: a uvicorn API server on a free port, a ``qc worker``."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import uvicorn

from qc_service.config import Settings
from qc_service.main import create_app


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def api_server(settings: Settings) -> Iterator[str]:
    """A real uvicorn server (its own thread and event loop) serving ``create_app(settings)``."""
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(settings),
            host="127.0.0.1",
            port=port,
            log_level="warning",
            timeout_graceful_shutdown=1,
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("API server did not start")
        time.sleep(0.02)
    try:
        yield base
    finally:
        server.should_exit = True
        thread.join(timeout=10)


class Worker:
    """A real ``qc worker`` process; its output is collected line by line."""

    def __init__(self, env: dict[str, str], log_path: Path) -> None:
        self.log_path = log_path
        self._log = log_path.open("w", encoding="utf-8")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "qc_service.cli.main", "worker", "--loglevel", "INFO"],
            env={**os.environ, **env},
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

    def output(self) -> str:
        self._log.flush()
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def wait_for_output(self, needle: str, timeout: float = 30.0) -> None:
        """Block until the worker has printed ``needle`` (or fail with its log)."""
        deadline = time.monotonic() + timeout
        while needle not in self.output():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"worker never printed {needle!r}:\n{self.output()[-3000:]}")
            time.sleep(0.05)

    def kill(self) -> None:
        """``kill -9``."""
        self.proc.kill()
        self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self._log.close()


def wait_until(predicate, timeout: float = 30.0, what: str = "condition") -> None:  # type: ignore[no-untyped-def]
    """Poll ``predicate`` until true (a deadline, not a sleep-for-timing)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def read_sse_event(response: httpx.Response) -> dict[str, str]:
    """The next ``event:``/``data:`` block of a server-sent-events response."""
    fields: dict[str, str] = {}
    for line in response.iter_lines():
        if not line:
            if "data" in fields:
                return fields
            continue
        if line.startswith(":"):
            continue
        key, _, value = line.partition(":")
        fields[key] = value.lstrip()
    raise AssertionError("stream ended without an event")
