"""An HTTP server on 127.0.0.1 that records every POST it receives and answers as a test scripts it."""

from __future__ import annotations

import http.server
import json
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator


@dataclass
class Received:
    path: str
    headers: dict[str, str]  # lower-case names
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class RecordingServer:
    url: str = ""
    received: list[Received] = field(default_factory=list)
    # The statuses of the next answers, in order; 200 once they are used up.
    statuses: list[int] = field(default_factory=list)
    # Called before each answer is sent: a sink that hangs until the test lets it answer.
    before_answer: Callable[[], Any] = lambda: None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def next_status(self) -> int:
        with self._lock:
            return self.statuses.pop(0) if self.statuses else 200

    def record(self, received: Received) -> None:
        with self._lock:
            self.received.append(received)

    def bodies(self) -> list[Any]:
        with self._lock:
            return [request.json() for request in self.received]

    def wait_for(self, count: int, timeout_s: float = 30) -> list[Received]:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            with self._lock:
                if len(self.received) >= count:
                    return list(self.received)
            time.sleep(0.02)
        raise AssertionError(f"{len(self.received)} request(s) received in {timeout_s}s, expected {count}")


@contextmanager
def recording_server() -> Iterator[RecordingServer]:
    server_state = RecordingServer()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - the name http.server calls
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            server_state.record(Received(self.path, {k.lower(): v for k, v in self.headers.items()}, body))
            server_state.before_answer()
            status = server_state.next_status()
            try:
                self.send_response(status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")
            except ConnectionError:
                pass  # the client stopped waiting (its timeout): what a hanging sink is for

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    server_state.url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server_state
    finally:
        server.shutdown()
        server.server_close()
