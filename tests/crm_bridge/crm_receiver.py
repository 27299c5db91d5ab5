"""A real HTTP receiver for webhook tests: records every request, answers as scripted.

Why a real server: the adapter's contract is bytes on the wire (body, headers, status codes,
timeouts, dropped connections); only a socket exercises it.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

OK = "ok"
DROP = "drop"
"""Record the request, then close the connection without answering (a lost response)."""
HANG = "hang"
"""Record the request, then wait until ``release()`` (a dispatcher killed mid-call)."""


@dataclass(frozen=True)
class Received:
    """One request as it arrived."""

    key: str
    timestamp: str
    signature: str
    content_type: str
    body: bytes

    @property
    def event(self) -> dict[str, Any]:
        parsed: dict[str, Any] = json.loads(self.body)
        return parsed


class Receiver:
    """Script answers with ``script(...)`` (consumed one per request, then ``default``)."""

    def __init__(self) -> None:
        self.requests: list[Received] = []
        self.acknowledged: list[Received] = []
        self.default: object = OK
        self.delay = 0.0
        self._script: deque[object] = deque()
        self._lock = threading.Lock()
        self._released = threading.Event()
        self.url = ""

    def script(self, *answers: object) -> None:
        """Queue answers: ``OK``, an int status, ``("sleep", seconds)``, ``DROP`` or ``HANG``."""
        with self._lock:
            self._script.extend(answers)

    def release(self) -> None:
        """Let every ``HANG`` request go."""
        self._released.set()

    def count(self) -> int:
        with self._lock:
            return len(self.requests)

    def wait_for(self, n: int, timeout: float = 20.0) -> None:
        """Bounded polling until ``n`` requests have arrived."""
        deadline = time.monotonic() + timeout
        while self.count() < n:
            assert time.monotonic() < deadline, f"only {self.count()} of {n} requests arrived"
            time.sleep(0.01)

    def _next(self, request: Received) -> object:
        with self._lock:
            self.requests.append(request)
            return self._script.popleft() if self._script else self.default

    def handle(self, handler: BaseHTTPRequestHandler) -> None:
        length = int(handler.headers.get("Content-Length", "0"))
        received = Received(
            key=handler.headers.get("Idempotency-Key", ""),
            timestamp=handler.headers.get("X-QC-Timestamp", ""),
            signature=handler.headers.get("X-QC-Signature", ""),
            content_type=handler.headers.get("Content-Type", ""),
            body=handler.rfile.read(length),
        )
        answer = self._next(received)
        if self.delay:
            time.sleep(self.delay)
        if answer == DROP:
            handler.close_connection = True
            return
        if answer == HANG:
            self._released.wait(60)
            handler.close_connection = True
            return
        status = 200
        if isinstance(answer, tuple):
            time.sleep(answer[1])
        elif isinstance(answer, int):
            status = answer
        payload = b'{"ok":true}' if status < 300 else b'{"error":"scripted"}'
        try:
            handler.send_response(status)
            handler.send_header("Content-Type", "application/json")
            handler.send_header("Content-Length", str(len(payload)))
            handler.end_headers()
            handler.wfile.write(payload)
        except OSError:  # the client gave up (timeout): it never saw this answer
            return
        if status < 300:
            with self._lock:
                self.acknowledged.append(received)


@contextmanager
def running_receiver() -> Iterator[Receiver]:
    """A receiver on 127.0.0.1 (free port) in a thread; its URL is ``receiver.url``."""
    receiver = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            receiver.handle(self)

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.daemon = True
    thread.start()
    receiver.url = f"http://127.0.0.1:{server.server_address[1]}/crm/events"
    try:
        yield receiver
    finally:
        receiver.release()
        server.shutdown()
        server.server_close()
        thread.join(5)
