"""The HTTP endpoints on a real server on 127.0.0.1, called with real requests: webhooks, probes, status, metrics."""

from __future__ import annotations

import hashlib
import hmac
import http.client
import io
import json
import logging
import re
import socket
import time
import uuid
from pathlib import Path
from typing import Any, Optional

import pytest

from reconciler.service.github_webhook import pull_request_stacks, pushed_stacks, repository_key
from reconciler.service.http_api import HttpApi
from reconciler.settings import load_config
from reconciler.telemetry.log_format import configure_logging
from reconciler.telemetry.redaction import MARKER, Redactor
from reconciler_testing import PROJECT_DIR, write_config

SECRET = "webhook-secret-for-tests"
STATUS_TOKEN = "status-token-for-tests"


class RecordingService:
    """The service side of the endpoints, recording what the HTTP layer asks of it."""

    def __init__(self, config: Any) -> None:
        self.config = config
        self.triggered: list[tuple[list[str], str]] = []
        self.pull_requests: list[tuple[str, Any]] = []
        self.status_error: Optional[Exception] = None

    def healthy(self) -> bool:
        return True

    def ready(self) -> bool:
        return False

    def status(self) -> dict[str, Any]:
        if self.status_error is not None:
            raise self.status_error
        return {"stacks": [{"stack": spec.name} for spec in self.config.stacks]}

    def metrics(self) -> bytes:
        return b"# HELP x y\n"

    def trigger(self, stacks: list[str], reason: str) -> None:
        self.triggered.append((stacks, reason))

    def preview_pull_request(self, event: str, payload: Any) -> dict[str, Any]:
        self.pull_requests.append((event, payload))
        names, ignored = pull_request_stacks(payload, self.config.stacks)
        return {"previewing": names, **({"ignored": ignored} if ignored else {})}


@pytest.fixture
def make_api(tmp_path: Path, remote, monkeypatch):
    """Starts the endpoints with the given `http:` section; every one started is closed at the end."""
    monkeypatch.setenv("RECONCILER_WEBHOOK_SECRET", SECRET)
    monkeypatch.setenv("RECONCILER_STATUS_TOKEN", STATUS_TOKEN)
    started: list[HttpApi] = []

    def make(**http_section: Any) -> tuple[HttpApi, RecordingService]:
        entry = {"name": "web", "repo": str(remote.bare), "branch": "main", "stack": "dev",
                 "backend_url": f"file://{tmp_path / 'backend'}", "virtualenv": str(PROJECT_DIR / ".venv")}
        other = {**entry, "name": "web-release", "branch": "release", "stack": "prod"}
        config = load_config(write_config(
            tmp_path / "reconciler.yaml", [entry, other],
            webhook={"secret": {"env": "RECONCILER_WEBHOOK_SECRET"}, "max_body_bytes": 4096},
            **({"http": http_section} if http_section else {}),
        ))
        service = RecordingService(config)
        server = HttpApi(service, "127.0.0.1", 0)
        server.start()
        started.append(server)
        return server, service

    yield make
    for server in started:
        server.close()


@pytest.fixture
def api(make_api, remote):
    server, service = make_api()
    return server, service, remote


def push_payload(remote, ref: str = "refs/heads/main") -> bytes:
    return json.dumps({
        "ref": ref,
        "after": "0" * 40,
        "repository": {"full_name": "example/web", "clone_url": str(remote.bare), "html_url": "https://example.com/x"},
    }).encode()


def pull_request_payload(remote, action: str = "synchronize", base: str = "main", head_repo: str = "example/web") -> dict:
    return {
        "action": action,
        "number": 7,
        "pull_request": {
            "number": 7,
            "head": {"sha": "a" * 40, "ref": "feature", "repo": {"full_name": head_repo}},
            "base": {"sha": "b" * 40, "ref": base, "repo": {"full_name": "example/web"}},
        },
        "repository": {"full_name": "example/web", "clone_url": str(remote.bare)},
    }


def sign(body: bytes, secret: str = SECRET) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def github_headers(body: bytes, event: str, delivery: Optional[str] = None, secret: str = SECRET) -> dict[str, str]:
    """What GitHub sends with a delivery: its signature, its event and a fresh delivery id unless one is given."""
    return {"X-Hub-Signature-256": sign(body, secret), "X-GitHub-Event": event, "X-GitHub-Delivery": delivery or str(uuid.uuid4())}


def request(port: int, method: str, path: str, body: bytes = b"", headers: dict | None = None) -> tuple[int, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def raw_exchange(port: int, data: bytes, timeout: float = 10) -> bytes:
    """Sends bytes as they are and returns everything the server answers until it closes or stays silent."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(data)
        sock.shutdown(socket.SHUT_WR)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
        return b"".join(chunks)


def status_of(answer: bytes) -> int:
    return int(answer.split(b" ", 2)[1])


def test_a_signed_push_for_a_tracked_branch_triggers_that_stack_only(api):
    server, service, remote = api
    body = push_payload(remote)

    status, answer = request(server.port, "POST", "/hooks/github", body, github_headers(body, "push"))

    assert status == 202
    assert json.loads(answer) == {"triggered": ["web"]}
    assert service.triggered == [(["web"], "webhook")]


@pytest.mark.parametrize("signature", [None, sign(b"another body"), sign(b"x", "wrong-secret")])
def test_a_missing_or_forged_signature_is_401_and_runs_nothing(api, signature):
    server, service, remote = api
    body = push_payload(remote)
    headers = {"X-GitHub-Event": "push", "X-GitHub-Delivery": str(uuid.uuid4())}
    if signature is not None:
        headers["X-Hub-Signature-256"] = signature

    status, _ = request(server.port, "POST", "/hooks/github", body, headers)

    assert status == 401
    assert service.triggered == []


@pytest.mark.parametrize("signature", [
    b"", b"sha256=", b"sha1=abc", b"sha256=" + b"g" * 64, b"sha256=" + b"a" * 63,
    "sha256=".encode() + "é".encode() * 32, b"sha256=\xff\xfe" + b"0" * 62,
])
def test_a_malformed_signature_is_400_and_runs_nothing(api, signature):
    server, service, remote = api
    body = push_payload(remote)
    head = (f"POST /hooks/github HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {len(body)}\r\n"
            "X-GitHub-Event: push\r\nX-GitHub-Delivery: d-1\r\nConnection: close\r\n").encode()

    answer = raw_exchange(server.port, head + b"X-Hub-Signature-256: " + signature + b"\r\n\r\n" + body)

    assert status_of(answer) == 400 and b"X-Hub-Signature-256" in answer
    assert service.triggered == []


def test_a_body_over_the_cap_is_413_before_it_is_read(api):
    server, service, remote = api
    body = b"{" + b" " * 5000 + b"}"

    status, answer = request(server.port, "POST", "/hooks/github", body, github_headers(body, "push"))

    assert status == 413 and b"4096" in answer
    assert service.triggered == []


@pytest.mark.parametrize("ref, repository", [
    ("refs/heads/feature", None),
    ("refs/tags/v1.0", None),
    ("refs/heads/main", "https://github.com/someone/else.git"),
])
def test_a_push_nobody_tracks_is_202_with_nothing_run(api, ref, repository):
    server, service, remote = api
    payload = json.loads(push_payload(remote, ref))
    if repository:
        payload["repository"] = {"clone_url": repository}
    body = json.dumps(payload).encode()

    status, answer = request(server.port, "POST", "/hooks/github", body, github_headers(body, "push"))

    assert status == 202 and json.loads(answer)["triggered"] == []
    assert service.triggered == []


def test_other_events_are_accepted_and_ignored_and_ping_answers(api):
    server, service, remote = api

    ping = request(server.port, "POST", "/hooks/github", b'{"zen": "hi"}', github_headers(b'{"zen": "hi"}', "ping"))
    issue = request(server.port, "POST", "/hooks/github", b'{"zen": "ho"}', github_headers(b'{"zen": "ho"}', "issues"))

    assert ping[0] == 200 and issue[0] == 202
    assert service.triggered == [] and service.pull_requests == []


def test_pull_request_and_issue_comment_events_go_to_the_previews_with_their_event_name(api):
    server, service, remote = api
    body = json.dumps(pull_request_payload(remote)).encode()
    comment = json.dumps({"action": "created", "issue": {"number": 7}, "comment": {"body": "/preview"}}).encode()

    forged = request(server.port, "POST", "/hooks/github", body, github_headers(body, "pull_request", secret="wrong"))
    assert forged[0] == 401 and service.pull_requests == []

    status, answer = request(server.port, "POST", "/hooks/github", body, github_headers(body, "pull_request"))
    commented = request(server.port, "POST", "/hooks/github", comment, github_headers(comment, "issue_comment"))

    assert status == 202 and json.loads(answer) == {"previewing": ["web"]}
    assert commented[0] == 202
    assert service.pull_requests == [("pull_request", json.loads(body)), ("issue_comment", json.loads(comment))]
    assert service.triggered == [], "a pull request never triggers a reconcile"


def test_a_replayed_delivery_is_answered_already_seen_and_triggers_nothing_even_after_a_restart(make_api, remote):
    server, service = make_api()
    body = push_payload(remote)
    headers = github_headers(body, "push", delivery="72d3162e-cc78-11e3-81ab-4c9367dc0958")

    first = request(server.port, "POST", "/hooks/github", body, headers)
    again = request(server.port, "POST", "/hooks/github", body, headers)
    new_id_same_body = request(server.port, "POST", "/hooks/github", body, github_headers(body, "push"))
    server.close()
    restarted, restarted_service = make_api()
    after_restart = request(restarted.port, "POST", "/hooks/github", body, headers)

    assert first[0] == 202 and service.triggered == [(["web"], "webhook")]
    for status, answer in (again, new_id_same_body, after_restart):
        assert status == 200 and json.loads(answer)["triggered"] == [] and "already_seen" in json.loads(answer)
    assert restarted_service.triggered == []
    deliveries = service.config.state_dir / "webhook-deliveries.sqlite"
    assert deliveries.stat().st_mode & 0o777 == 0o600


def test_a_delivery_without_its_id_is_still_refused_when_replayed_and_a_bad_event_name_is_400(api):
    server, service, remote = api
    body = push_payload(remote)
    unnamed = {"X-Hub-Signature-256": sign(body), "X-GitHub-Event": "push"}

    first = request(server.port, "POST", "/hooks/github", body, unnamed)
    replayed = request(server.port, "POST", "/hooks/github", body, unnamed)
    bad_id = request(server.port, "POST", "/hooks/github", body, {**unnamed, "X-GitHub-Delivery": "not a guid"})
    other = push_payload(remote, "refs/heads/release")
    bad_event = request(server.port, "POST", "/hooks/github", other, github_headers(other, "Push Event"))

    assert first[0] == 202 and replayed[0] == 200 and "already_seen" in json.loads(replayed[1])
    assert bad_id[0] == 400 and b"X-GitHub-Delivery" in bad_id[1]
    assert bad_event[0] == 400 and b"X-GitHub-Event" in bad_event[1]
    assert service.triggered == [(["web"], "webhook")]


@pytest.mark.parametrize("head, status", [
    ("Content-Length: \u00b2", 400),
    ("Content-Length: -1", 400),
    ("Content-Length: 12\r\nContent-Length: 13", 400),
    ("Transfer-Encoding: chunked", 400),
    ("X-Nothing: 1", 411),
    ("Content-Length: 99999999999999999999999", 400),
])
def test_malformed_body_framing_is_refused_with_a_json_error(api, head, status):
    server, service, _ = api

    answer = raw_exchange(server.port, f"POST /hooks/github HTTP/1.1\r\nHost: 127.0.0.1\r\n{head}\r\n\r\n".encode())

    assert status_of(answer) == status
    assert "error" in json.loads(answer.split(b"\r\n\r\n", 1)[1])
    assert service.triggered == []


def test_the_host_header_must_name_this_service_except_for_probes(make_api):
    server, _ = make_api(allowed_hosts=["hooks.example.com"])
    port = server.port

    assert request(port, "GET", "/status", headers={"Host": "hooks.example.com"})[0] == 200
    assert request(port, "GET", "/status", headers={"Host": f"HOOKS.example.com:{port}"})[0] == 200
    assert request(port, "GET", "/status", headers={"Host": "attacker.example"})[0] == 421
    assert request(port, "GET", "/status")[0] == 421, "127.0.0.1 is not in the configured names"
    assert status_of(raw_exchange(port, b"GET /status HTTP/1.0\r\n\r\n")) == 400, "no Host at all"
    assert request(port, "GET", "/healthz", headers={"Host": "10.0.0.7:8099"})[0] == 200


def test_by_default_the_loopback_names_are_answered(api):
    server, _, _ = api

    for host in ("127.0.0.1", "localhost", "[::1]:8099", f"127.0.0.1:{server.port}"):
        assert request(server.port, "GET", "/status", headers={"Host": host})[0] == 200, host
    assert request(server.port, "GET", "/status", headers={"Host": "example.com"})[0] == 421


def test_status_and_metrics_need_the_bearer_token_when_asked_to(make_api):
    server, _ = make_api(status_token={"env": "RECONCILER_STATUS_TOKEN"}, status_auth="always")
    port = server.port

    for path in ("/status", "/metrics"):
        assert request(port, "GET", path)[0] == 401
        assert request(port, "GET", path, headers={"Authorization": "Bearer wrong"})[0] == 401
        assert request(port, "GET", path, headers={"Authorization": f"Bearer {STATUS_TOKEN}"})[0] == 200
    assert request(port, "GET", "/healthz")[0] == 200


def test_on_loopback_the_token_is_not_asked_for_unless_always(make_api):
    server, _ = make_api(status_token={"env": "RECONCILER_STATUS_TOKEN"})

    assert request(server.port, "GET", "/status")[0] == 200


def test_a_failing_handler_answers_500_json_and_logs_one_redacted_line(api):
    server, service, _ = api
    stream = io.StringIO()
    configure_logging(Redactor([SECRET]), "json", "INFO", stream)
    service.status_error = RuntimeError(f"the store said {SECRET}")
    try:
        status, answer = request(server.port, "GET", "/status")
        healthy = request(server.port, "GET", "/healthz")
    finally:
        logging.getLogger().handlers.clear()

    assert status == 500 and json.loads(answer)["error"].startswith("internal error (RuntimeError)")
    assert SECRET.encode() not in answer
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert [entry["level"] for entry in lines] == ["error"]
    assert MARKER in lines[0]["msg"] and SECRET not in stream.getvalue() and "Traceback" not in stream.getvalue()
    assert healthy[0] == 200


def test_pipelined_requests_are_answered_in_order_on_one_connection(api):
    server, _, _ = api
    one = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
    two = b"GET /nope HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
    three = b"GET /status HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"

    answer = raw_exchange(server.port, one + two + three)

    assert [int(code) for code in re.findall(rb"HTTP/1\.1 (\d{3}) ", answer)] == [200, 404, 200]


def test_connections_over_the_cap_get_503_and_are_closed(make_api):
    server, _ = make_api(max_connections=3)
    held = [socket.create_connection(("127.0.0.1", server.port), timeout=10) for _ in range(3)]
    try:
        # The server counts a connection once its loop has accepted it.
        held[0].sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        assert held[0].recv(100).startswith(b"HTTP/1.1 200")

        over = raw_exchange(server.port, b"")

        assert status_of(over) == 503 and b"too many open connections" in over
    finally:
        for sock in held:
            sock.close()
    assert request(server.port, "GET", "/healthz")[0] == 200, "closed connections free their places"


def test_the_deadline_is_for_the_whole_request_not_each_read(make_api):
    server, _ = make_api(request_timeout="1s")
    request_bytes = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        started = time.monotonic()
        sent = 0
        # One byte every 0.2 s would take 8 s for the whole request; each read alone is quick.
        try:
            for byte in request_bytes:
                sock.sendall(bytes([byte]))
                sent += 1
                time.sleep(0.2)
        except OSError:
            pass  # the server closed the connection while the client was still sending
        answer = sock.recv(65536)
        elapsed = time.monotonic() - started

    assert status_of(answer) == 408
    assert sent < len(request_bytes), "the server cut the slow request off before it was complete"
    assert elapsed < len(request_bytes) * 0.2


def test_a_pull_request_concerns_the_stacks_of_its_repository_tracking_its_base_branch(api):
    # Which actions, authors and forks are previewed: test_preview_permission.py.
    _, service, remote = api
    stacks = service.config.stacks

    assert pull_request_stacks(pull_request_payload(remote, "opened"), stacks) == (["web"], None)
    assert pull_request_stacks(pull_request_payload(remote, "reopened", base="release"), stacks) == (["web-release"], None)
    assert pull_request_stacks(pull_request_payload(remote, base="develop"), stacks) == ([], None)
    assert pull_request_stacks({"repository": {}}, stacks)[1] == "not a pull_request payload: it has no pull_request.base and .head"
    elsewhere = {**pull_request_payload(remote), "repository": {"full_name": "example/web", "clone_url": "https://example.com/other.git"}}
    assert pull_request_stacks(elsewhere, stacks) == ([], None)


def test_probes_status_and_metrics_answer(api):
    server, service, _ = api

    assert request(server.port, "GET", "/healthz")[0] == 200
    assert request(server.port, "GET", "/readyz")[0] == 503, "the recording service says it is not ready"
    status, body = request(server.port, "GET", "/status")
    assert status == 200 and [s["stack"] for s in json.loads(body)["stacks"]] == ["web", "web-release"]
    assert request(server.port, "GET", "/metrics") == (200, b"# HELP x y\n")
    assert request(server.port, "GET", "/nope")[0] == 404
    assert request(server.port, "POST", "/status", b"{}")[0] == 405


def test_urls_of_one_repository_compare_equal_however_they_are_spelled(tmp_path):
    same = {
        repository_key("https://github.com/Example/Web.git"),
        repository_key("git@github.com:example/web.git"),
        repository_key("ssh://git@github.com/example/web"),
        repository_key("https://github.com/example/web/"),
    }
    assert same == {"github.com/example/web"}
    assert repository_key(str(tmp_path)) == repository_key(f"file://{tmp_path}")
    assert repository_key("https://github.com/example/web2") != "github.com/example/web"


def test_pushed_stacks_ignores_payloads_without_a_branch_ref(api):
    _, service, remote = api
    assert pushed_stacks({"ref": "refs/heads/release", "repository": {"clone_url": str(remote.bare)}}, service.config.stacks) == ["web-release"]
    assert pushed_stacks({"repository": {"clone_url": str(remote.bare)}}, service.config.stacks) == []
    assert pushed_stacks(["not", "a", "mapping"], service.config.stacks) == []
