"""The HTTP endpoints on a real server on 127.0.0.1, called with real requests: webhooks, probes, status, metrics."""

from __future__ import annotations

import hashlib
import hmac
import http.client
import json
from pathlib import Path
from typing import Any

import pytest

from reconciler.service.github_webhook import pull_request_stacks, pushed_stacks, repository_key
from reconciler.service.http_api import HttpApi
from reconciler.settings import load_config
from reconciler_testing import PROJECT_DIR, write_config

SECRET = "webhook-secret-for-tests"


class RecordingService:
    """The service side of the endpoints, recording what the HTTP layer asks of it."""

    def __init__(self, config: Any) -> None:
        self.config = config
        self.triggered: list[tuple[list[str], str]] = []
        self.pull_requests: list[Any] = []

    def healthy(self) -> bool:
        return True

    def ready(self) -> bool:
        return False

    def status(self) -> dict[str, Any]:
        return {"stacks": [{"stack": spec.name} for spec in self.config.stacks]}

    def metrics(self) -> bytes:
        return b"# HELP x y\n"

    def trigger(self, stacks: list[str], reason: str) -> None:
        self.triggered.append((stacks, reason))

    def preview_pull_request(self, payload: Any) -> dict[str, Any]:
        self.pull_requests.append(payload)
        names, ignored = pull_request_stacks(payload, self.config.stacks)
        return {"previewing": names, **({"ignored": ignored} if ignored else {})}


@pytest.fixture
def api(tmp_path: Path, remote, monkeypatch):
    monkeypatch.setenv("RECONCILER_WEBHOOK_SECRET", SECRET)
    entry = {"name": "web", "repo": str(remote.bare), "branch": "main", "stack": "dev",
             "backend_url": f"file://{tmp_path / 'backend'}", "virtualenv": str(PROJECT_DIR / ".venv")}
    other = {**entry, "name": "web-release", "branch": "release", "stack": "prod"}
    config = load_config(write_config(
        tmp_path / "reconciler.yaml", [entry, other],
        webhook={"secret": {"env": "RECONCILER_WEBHOOK_SECRET"}, "max_body_bytes": 4096},
    ))
    service = RecordingService(config)
    server = HttpApi(service, "127.0.0.1", 0)
    server.start()
    yield server, service, remote
    server.close()


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


def request(port: int, method: str, path: str, body: bytes = b"", headers: dict | None = None) -> tuple[int, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def test_a_signed_push_for_a_tracked_branch_triggers_that_stack_only(api):
    server, service, remote = api
    body = push_payload(remote)

    status, answer = request(server.port, "POST", "/hooks/github", body,
                             {"X-Hub-Signature-256": sign(body), "X-GitHub-Event": "push"})

    assert status == 202
    assert json.loads(answer) == {"triggered": ["web"]}
    assert service.triggered == [(["web"], "webhook")]


@pytest.mark.parametrize("signature", [None, "", "sha256=", "sha1=abc", sign(b"another body"), sign(b"x", "wrong-secret")])
def test_a_missing_or_forged_signature_is_401_and_runs_nothing(api, signature):
    server, service, remote = api
    body = push_payload(remote)
    headers = {"X-GitHub-Event": "push"}
    if signature is not None:
        headers["X-Hub-Signature-256"] = signature

    status, _ = request(server.port, "POST", "/hooks/github", body, headers)

    assert status == 401
    assert service.triggered == []


def test_a_body_over_the_cap_is_413_before_it_is_read(api):
    server, service, remote = api
    body = b"{" + b" " * 5000 + b"}"

    status, answer = request(server.port, "POST", "/hooks/github", body,
                             {"X-Hub-Signature-256": sign(body), "X-GitHub-Event": "push"})

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

    status, answer = request(server.port, "POST", "/hooks/github", body,
                             {"X-Hub-Signature-256": sign(body), "X-GitHub-Event": "push"})

    assert status == 202 and json.loads(answer)["triggered"] == []
    assert service.triggered == []


def test_other_events_are_accepted_and_ignored_and_ping_answers(api):
    server, service, remote = api
    body = b'{"zen": "hi"}'

    ping = request(server.port, "POST", "/hooks/github", body, {"X-Hub-Signature-256": sign(body), "X-GitHub-Event": "ping"})
    issue = request(server.port, "POST", "/hooks/github", body, {"X-Hub-Signature-256": sign(body), "X-GitHub-Event": "issues"})

    assert ping[0] == 200 and issue[0] == 202
    assert service.triggered == []


def test_a_signed_pull_request_event_asks_for_previews_of_the_stacks_tracking_its_base_branch(api):
    server, service, remote = api
    body = json.dumps(pull_request_payload(remote)).encode()

    forged = request(server.port, "POST", "/hooks/github", body, {"X-Hub-Signature-256": sign(body, "wrong"), "X-GitHub-Event": "pull_request"})
    assert forged[0] == 401 and service.pull_requests == []

    status, answer = request(server.port, "POST", "/hooks/github", body, {"X-Hub-Signature-256": sign(body), "X-GitHub-Event": "pull_request"})

    assert status == 202 and json.loads(answer) == {"previewing": ["web"]}
    assert service.pull_requests == [json.loads(body)] and service.triggered == [], "a pull request never triggers a reconcile"


def test_pull_request_events_preview_only_new_commits_from_this_repository(api):
    _, service, remote = api
    stacks = service.config.stacks

    assert pull_request_stacks(pull_request_payload(remote, "opened"), stacks) == (["web"], None)
    assert pull_request_stacks(pull_request_payload(remote, "reopened", base="release"), stacks) == (["web-release"], None)
    assert pull_request_stacks(pull_request_payload(remote, base="develop"), stacks) == ([], None)
    closed, why_closed = pull_request_stacks(pull_request_payload(remote, "closed"), stacks)
    assert closed == [] and "closed" in why_closed
    fork, why_fork = pull_request_stacks(pull_request_payload(remote, head_repo="stranger/web"), stacks)
    assert fork == [] and "fork" in why_fork and "credentials" in why_fork
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
