"""Hostile traffic against the real service process on 127.0.0.1: it answers every request, and changes nothing.

`python -m reconciler run` keeps a real stack (the tiny project, real engine),
then takes forged and malformed webhooks, replays, slow clients, oversized
bodies, pipelined requests, odd events, unicode everywhere and more
connections than it allows. Afterwards it is alive, /healthz answers, and the
stack's status rows and engine state are byte for byte what they were.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import select
import socket
import sqlite3
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Optional

import pytest

from testsupport.reconciler_testing import PROJECT_DIR, TINY_PROJECT, free_port, tiny_stack, write_config

pytestmark = pytest.mark.e2e
SECRET = "hostile-suite-webhook-secret"
DEADLINE_S = 2
MAX_CONNECTIONS = 40
MAX_BODY = 65_536


@pytest.fixture
def tiny(remote):
    remote.commit("tiny project", TINY_PROJECT)
    (remote.clone / ".venv").symlink_to(PROJECT_DIR / ".venv")
    return remote


class Client:
    """Raw HTTP/1.1 over sockets to the service, counting every request sent."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.sent = 0
        self._lock = threading.Lock()

    def exchange(self, data: bytes, requests: int = 1, timeout: float = 10) -> bytes:
        """Sends the bytes, half-closes, and reads until the service closes the connection."""
        with self._lock:
            self.sent += requests
        with socket.create_connection(("127.0.0.1", self.port), timeout=timeout) as sock:
            try:
                sock.sendall(data)
                sock.shutdown(socket.SHUT_WR)
            except OSError:
                pass  # the service answered and closed before taking everything (413, 400)
            return read_until_closed(sock)

    def status(self, data: bytes, **options: Any) -> int:
        return status_of(self.exchange(data, **options))

    def post(self, body: bytes, headers: dict[str, str], path: str = "/hooks/github") -> tuple[int, Any]:
        head = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
        answer = self.exchange(
            f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{self.port}\r\nContent-Length: {len(body)}\r\n{head}Connection: close\r\n\r\n".encode()
            + body
        )
        return status_of(answer), json.loads(answer.split(b"\r\n\r\n", 1)[1] or b"null")

    def get(self, path: str, host: Optional[str] = None) -> int:
        return self.status(f"GET {path} HTTP/1.1\r\nHost: {host or '127.0.0.1'}\r\nConnection: close\r\n\r\n".encode())


def read_until_closed(sock: socket.socket) -> bytes:
    chunks = []
    try:
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    except ConnectionResetError:
        pass
    return b"".join(chunks)


def status_of(answer: bytes) -> int:
    return int(answer.split(b" ", 2)[1]) if answer.startswith(b"HTTP/1.1 ") else 0


def signed(body: bytes, event: str = "push", delivery: Optional[str] = None, secret: str = SECRET) -> dict[str, str]:
    return {
        "X-Hub-Signature-256": "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest(),
        "X-GitHub-Event": event,
        "X-GitHub-Delivery": delivery or str(uuid.uuid4()),
    }


def untracked_push(remote, branch: str = "feature/untracked") -> bytes:
    # A branch no stack tracks: a signed push is accepted and triggers nothing.
    return json.dumps({"ref": f"refs/heads/{branch}", "after": uuid.uuid4().hex,
                       "repository": {"clone_url": str(remote.bare)}}, ensure_ascii=False).encode()


def status_rows(database: Path) -> dict[str, list[tuple]]:
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as db:
        tables = [row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
        return {table: db.execute(f"SELECT * FROM {table} ORDER BY rowid").fetchall() for table in tables}


def engine_state(backend: Path) -> dict[str, bytes]:
    return {str(path.relative_to(backend)): path.read_bytes() for path in sorted(backend.rglob("*.json")) if "backups" not in path.parts}


def test_hostile_traffic_leaves_the_service_alive_and_every_stack_untouched(tiny, tmp_path, engine_env, start_service):
    port = free_port()
    backend = tmp_path / "backend"
    config = write_config(
        tmp_path / "reconciler.yaml", [tiny_stack(tiny, backend, resync_interval="1h")],
        listen=f"127.0.0.1:{port}", webhook={"secret": {"env": "HOSTILE_WEBHOOK_SECRET"}, "max_body_bytes": MAX_BODY},
        http={"max_connections": MAX_CONNECTIONS, "request_timeout": f"{DEADLINE_S}s", "workers": 2},
    )
    service = start_service(config, {**engine_env, "HOSTILE_WEBHOOK_SECRET": SECRET}, port)
    service.wait_until(lambda: service.stack("tiny")["last_applied_commit"] == tiny.head(), 120, "the first apply")
    store = tmp_path / "reconciler-state" / "status.sqlite"
    rows_before, state_before = status_rows(store), engine_state(backend)
    client = Client(port)
    push = untracked_push(tiny)

    # Bad signatures: forged, another secret, malformed, not ASCII, sent twice.
    forged_signature = "sha256=" + "0" * 64
    for headers, expected in [
        ({"X-GitHub-Event": "push"}, 401),
        ({**signed(push), "X-Hub-Signature-256": forged_signature}, 401),
        (signed(push, secret="not-the-secret"), 401),
        (signed(push + b" "), 401),
        ({**signed(push), "X-Hub-Signature-256": "sha256=" + "z" * 64}, 400),
        ({**signed(push), "X-Hub-Signature-256": "sha1=" + "0" * 40}, 400),
        ({**signed(push), "X-Hub-Signature-256": "sha256=" + "\u0663" * 64}, 400),
        ({**signed(push), "X-Hub-Signature-256": "sha256=" + "\u00e9" * 64}, 400),
    ]:
        assert client.post(push, headers)[0] == expected, headers
    twice = f"POST /hooks/github HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {len(push)}\r\n" \
            f"X-Hub-Signature-256: {signed(push)['X-Hub-Signature-256']}\r\nX-Hub-Signature-256: {forged_signature}\r\n" \
            "X-GitHub-Event: push\r\n\r\n"
    assert client.status(twice.encode() + push) == 400

    # Replays: the same delivery, the same body under new ids, after a malformed try.
    delivery = str(uuid.uuid4())
    assert client.post(push, signed(push, delivery=delivery)) == (202, {"triggered": []})
    for headers in [signed(push, delivery=delivery)] * 3 + [signed(push) for _ in range(3)]:
        assert client.post(push, headers) == (200, {"already_seen": True, "triggered": []})

    # Wrong event types, and events that are not events.
    for event, expected in [("issues", 202), ("deployment_status", 202), ("check_run", 202), ("Push", 400),
                            ("push push", 400), ("", 400), ("x" * 65, 400)]:
        body = untracked_push(tiny)
        assert client.post(body, signed(body, event=event))[0] == expected, event
    not_json = b"{not json"
    assert client.post(not_json, signed(not_json))[0] == 400
    a_list = b"[1, 2, 3]"
    assert client.post(a_list, signed(a_list)) == (202, {"triggered": []})

    # Oversized: declared and never read, or sent anyway.
    assert client.status(b"POST /hooks/github HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 2000000000\r\n\r\n") == 413
    big = b"{" + b" " * (MAX_BODY + 10) + b"}"
    assert client.post(big, signed(big))[0] == 413
    assert client.status(b"GET /status HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: " + b"a" * 20_000 + b"\r\n\r\n") == 431

    # Malformed requests and headers.
    for raw, expected in [
        (b"POST /hooks/github HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: \xc2\xb2\r\n\r\n", 400),
        (b"POST /hooks/github HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!", 400),
        (b"POST /hooks/github HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n", 400),
        (b"POST /hooks/github HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", 411),
        (b"GET /status HTTP/1.1\r\nHost: 127.0.0.1\r\nNo colon here\r\n\r\n", 400),
        (b"GET /status HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Nul: a\x00b\r\n\r\n", 400),
        (b"GET /status HTTP/1.1\r\nHost: 127.0.0.1\r\nHost: 127.0.0.1\r\n\r\n", 400),
        (b"GET /status HTTP/1.1\r\n\r\n", 400),
        (b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 505),
        (b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 400),
        (b"GET\r\n\r\n", 400),
        (b"GET /status HTTP/9.9\r\nHost: 127.0.0.1\r\n\r\n", 505),
        (b"DELETE /status HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", 405),
        (b"GET /status HTTP/1.1\r\nHost: attacker.example\r\n\r\n", 421),
        (b"GET /status HTTP/1.1\r\nHost: 127.0.0.1:notaport\r\n\r\n", 400),
    ]:
        assert client.status(raw) == expected, raw

    # Unicode everywhere: paths, header names and values, Host, bodies.
    for raw, expected in [
        ("GET /st\u00e4tus HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode(), 400),
        (b"GET /%F0%9F%92%A5 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", 404),
        ("GET /hooks/github/\U0001f4a5 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode(), 400),
        ("GET /status HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Gr\u00fc\u00dfe: 1\r\n\r\n".encode(), 400),
        ("GET /status HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Greeting: gr\u00fc\u00df dich \U0001f600\r\n\r\n".encode(), 200),
        ("GET /status HTTP/1.1\r\nHost: b\u00fccher.example\r\n\r\n".encode(), 400),
        ("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer \u2603\r\n\r\n".encode(), 200),
    ]:
        assert client.status(raw) == expected, raw
    for branch in ("\u00fcn\u00efc\u00f6d\u00e9", "\U0001f680/rocket", "\u202etxt.exe", "\u0000nul"):
        body = untracked_push(tiny, branch)
        assert client.post(body, signed(body)) == (202, {"triggered": []}), branch
    unicode_delivery = untracked_push(tiny)
    assert client.post(unicode_delivery, {**signed(unicode_delivery), "X-GitHub-Delivery": "\u00e9t\u00e9-1"})[0] == 400

    # Pipelined: ten requests in one write, answered in order on one connection.
    pipelined = b"".join(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode() for path in ["/healthz", "/nope"] * 5)
    answers = client.exchange(pipelined, requests=10)
    assert re.findall(rb"HTTP/1\.1 (\d{3}) ", answers) == [b"200", b"404"] * 5

    # Slow clients: one byte a second each, while ordinary requests go on being answered.
    def slow_client(_: int) -> tuple[int, float]:
        started = time.monotonic()
        with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
            try:
                for byte in b"POST /hooks/github HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 10\r\n\r\n0123456789":
                    sock.sendall(bytes([byte]))
                    if select.select([sock], [], [], 1)[0]:
                        break  # the service answered: the deadline has passed
            except OSError:
                pass
            return status_of(read_until_closed(sock)), time.monotonic() - started

    with ThreadPoolExecutor(max_workers=20) as pool:
        slow = pool.map(slow_client, range(20))
        time.sleep(0.5)
        during = [client.get("/healthz") for _ in range(10)]
        slow = list(slow)
    client.sent += 20
    assert during == [200] * 10, "slow clients hold no worker"
    assert all(status == 408 and elapsed < DEADLINE_S + 3 for status, elapsed in slow), slow

    # More connections than allowed: the excess gets 503 at once, the rest are dropped at the deadline.
    sockets = [socket.create_connection(("127.0.0.1", port), timeout=DEADLINE_S + 5) for _ in range(MAX_CONNECTIONS + 20)]
    client.sent += len(sockets)
    try:
        endings = [status_of(read_until_closed(sock)) for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()
    assert endings.count(503) >= 20 and set(endings) <= {503, 0}, endings

    # The service is alive, answers at once, and nothing changed.
    started = time.monotonic()
    assert service.get("/healthz")[0] == 200
    assert time.monotonic() - started < 2, "/healthz answered promptly after the storm"
    assert service.process.poll() is None
    assert client.sent >= 60, client.sent
    assert status_rows(store) == rows_before
    assert engine_state(backend) == state_before
    log = service.log()
    assert "Traceback" not in log and SECRET not in log
    assert service.stop() == 0
