"""Engine events as the engine writes them, and a small GitHub that records every request."""

from __future__ import annotations

import http.server
import json
import re
import threading
import urllib.parse
from dataclasses import dataclass, field
from typing import Any, Iterator, Optional

import pytest
from pulumi.automation.events import EngineEvent

PROJECT = "pulumi-gitops"
# Where the program puts the manifests: Workloads component > ConfigGroup > objects.
CONFIG_GROUP_PARENT = "pulumi-gitops:workloads:Workloads$kubernetes:yaml/v2:ConfigGroup"


class EngineEvents:
    """Builds `EngineEvent`s through the SDK's own `from_json`, from the JSON the engine's event log holds."""

    def __init__(self, stack: str = "dev") -> None:
        self.stack = stack
        self.sequence = 0
        self.provider = f"urn:pulumi:{stack}::{PROJECT}::pulumi:providers:kubernetes::cluster-k8s::0b8e6e2c-4c1e-4f4e-9a57-2f0d2c6f1a11"

    def urn(self, type_: str, name: str, parent: str = CONFIG_GROUP_PARENT) -> str:
        qualified = f"{parent}${type_}" if parent else type_
        return f"urn:pulumi:{self.stack}::{PROJECT}::{qualified}::{name}"

    def event(self, **payload: Any) -> EngineEvent:
        self.sequence += 1
        return EngineEvent.from_json({"sequence": self.sequence, "timestamp": 1767225600 + self.sequence, **payload})

    def step(
        self,
        op: str,
        type_: str,
        name: str,
        *,
        parent: str = CONFIG_GROUP_PARENT,
        diffs: Optional[list[str]] = None,
        detailed_diff: Optional[dict[str, str]] = None,
        keys: Optional[list[str]] = None,
        inputs: Optional[dict[str, Any]] = None,
        kind: str = "resourcePreEvent",
    ) -> EngineEvent:
        urn = self.urn(type_, name, parent)
        state = {
            "type": type_,
            "urn": urn,
            "id": name,
            "parent": self.urn("kubernetes:yaml/v2:ConfigGroup", "workloads-manifests", "pulumi-gitops:workloads:Workloads"),
            "provider": self.provider,
            "custom": True,
            "inputs": inputs or {},
            "outputs": {},
        }
        metadata: dict[str, Any] = {
            "op": op,
            "urn": urn,
            "type": type_,
            "provider": self.provider,
            "old": None if op == "create" else state,
            "new": None if op == "delete" else state,
        }
        if diffs is not None:
            metadata["diffs"] = diffs
        if detailed_diff is not None:
            metadata["detailedDiff"] = {path: {"diffKind": kind_, "inputDiff": True} for path, kind_ in detailed_diff.items()}
        if keys is not None:
            metadata["keys"] = keys
        return self.event(**{kind: {"metadata": metadata, "planning": True}})

    def summary(self, **changes: int) -> EngineEvent:
        return self.event(summaryEvent={"maybeCorrupt": False, "durationSeconds": 4, "resourceChanges": changes, "PolicyPacks": {}})

    def diagnostic(self, message: str, severity: str = "error") -> EngineEvent:
        return self.event(diagnosticEvent={"message": message, "color": "never", "severity": severity, "urn": self.urn("pulumi:pulumi:Stack", f"{PROJECT}-{self.stack}", "")})

    def replicas_change_and_configmap_delete(self) -> list[EngineEvent]:
        """The issue's example: a Deployment's replicas change and a ConfigMap is deleted; the rest is the same."""
        same = [
            ("pulumi:pulumi:Stack", f"{PROJECT}-{self.stack}", ""),
            ("pulumi-gitops:workloads:Workloads", "workloads", ""),
            ("kubernetes:core/v1:Namespace", "workloads-manifests:demo", CONFIG_GROUP_PARENT),
            ("kubernetes:core/v1:Service", "workloads-manifests:demo/demo", CONFIG_GROUP_PARENT),
        ]
        events = [self.event(preludeEvent={"config": {"pulumi-gitops:target": "local"}})]
        events += [self.step("same", type_, name, parent=parent) for type_, name, parent in same]
        events.append(
            self.step(
                "update",
                "kubernetes:apps/v1:Deployment",
                "workloads-manifests:demo/demo",
                diffs=["spec"],
                detailed_diff={"spec.replicas": "update"},
            )
        )
        events.append(self.step("delete", "kubernetes:core/v1:ConfigMap", "workloads-manifests:demo/demo-config"))
        # The engine also reports outputs for the steps during a preview; they must not count twice.
        events += [self.step("same", type_, name, parent=parent, kind="resOutputsEvent") for type_, name, parent in same]
        events.append(self.summary(same=4, update=1, delete=1))
        return events


@pytest.fixture
def engine_events() -> EngineEvents:
    return EngineEvents()


@dataclass
class RecordedRequest:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]  # lower-case names
    body: Optional[Any]


@dataclass
class FakeGitHub:
    """The issue-comment endpoints of the GitHub REST API, with real pagination and auth checks."""

    url: str = ""
    token: str = "ghs_FAKEtoken0123456789abcdefABCDEF"
    pulls: set[tuple[str, str, int]] = field(default_factory=set)
    comments: list[dict[str, Any]] = field(default_factory=list)
    requests: list[RecordedRequest] = field(default_factory=list)
    # (status, JSON body, extra headers) answered to every request when set.
    failure: Optional[tuple[int, dict[str, Any], dict[str, str]]] = None
    next_link_host: Optional[str] = None
    _next_id: int = 1000

    def add_pull(self, owner: str, repo: str, number: int) -> None:
        self.pulls.add((owner, repo, number))

    def add_comment(self, owner: str, repo: str, number: int, body: str) -> int:
        self._next_id += 1
        self.comments.append(
            {"id": self._next_id, "owner": owner, "repo": repo, "number": number, "body": body,
             "html_url": f"https://github.example/{owner}/{repo}/pull/{number}#issuecomment-{self._next_id}"}
        )
        return self._next_id

    def comments_on(self, owner: str, repo: str, number: int) -> list[dict[str, Any]]:
        return [c for c in self.comments if (c["owner"], c["repo"], c["number"]) == (owner, repo, number)]

    def calls(self) -> list[tuple[str, str]]:
        return [(r.method, r.path) for r in self.requests]

    def handle(self, method: str, raw_path: str, headers: dict[str, str], raw_body: bytes) -> tuple[int, Any, dict[str, str]]:
        parsed = urllib.parse.urlsplit(raw_path)
        query = dict(urllib.parse.parse_qsl(parsed.query))
        body = json.loads(raw_body) if raw_body else None
        self.requests.append(RecordedRequest(method, parsed.path, query, headers, body))
        if self.failure is not None:
            return self.failure
        if headers.get("authorization") != f"Bearer {self.token}":
            return 401, {"message": "Bad credentials"}, {}

        listing = re.fullmatch(r"/repos/([^/]+)/([^/]+)/issues/(\d+)/comments", parsed.path)
        if listing:
            owner, repo, number = listing.group(1), listing.group(2), int(listing.group(3))
            if (owner, repo, number) not in self.pulls:
                return 404, {"message": "Not Found"}, {}
            if method == "GET":
                return self._page(parsed.path, query, self.comments_on(owner, repo, number))
            if method == "POST":
                if not isinstance(body, dict) or not isinstance(body.get("body"), str) or len(body["body"]) > 65536:
                    return 422, {"message": "Validation Failed", "errors": [{"message": "body is too long"}]}, {}
                comment_id = self.add_comment(owner, repo, number, body["body"])
                return 201, self._public(self._by_id(comment_id)), {}
        editing = re.fullmatch(r"/repos/([^/]+)/([^/]+)/issues/comments/(\d+)", parsed.path)
        if editing and method == "PATCH":
            comment = self._by_id(int(editing.group(3)))
            if comment is None or (comment["owner"], comment["repo"]) != (editing.group(1), editing.group(2)):
                return 404, {"message": "Not Found"}, {}
            comment["body"] = body["body"]
            return 200, self._public(comment), {}
        return 404, {"message": "Not Found"}, {}

    def _page(self, path: str, query: dict[str, str], comments: list[dict[str, Any]]) -> tuple[int, Any, dict[str, str]]:
        per_page = min(int(query.get("per_page", 30)), 100)
        page = int(query.get("page", 1))
        items = comments[(page - 1) * per_page : page * per_page]
        headers = {}
        if page * per_page < len(comments):
            host = self.next_link_host or self.url
            headers["Link"] = f'<{host}{path}?per_page={per_page}&page={page + 1}>; rel="next"'
        return 200, [self._public(c) for c in items], headers

    def _by_id(self, comment_id: int) -> Optional[dict[str, Any]]:
        return next((c for c in self.comments if c["id"] == comment_id), None)

    @staticmethod
    def _public(comment: dict[str, Any]) -> dict[str, Any]:
        return {"id": comment["id"], "body": comment["body"], "html_url": comment["html_url"], "user": {"login": "github-actions[bot]"}}


@pytest.fixture
def fake_github(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeGitHub]:
    """A FakeGitHub served on 127.0.0.1 in a thread, with its token in $GITHUB_TOKEN."""
    github = FakeGitHub()

    class Handler(http.server.BaseHTTPRequestHandler):
        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw_body = self.rfile.read(length) if length else b""
            headers = {name.lower(): value for name, value in self.headers.items()}
            status, payload, extra = github.handle(self.command, self.path, headers, raw_body)
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for name, value in extra.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PATCH = _serve

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    github.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    monkeypatch.setenv("GITHUB_TOKEN", github.token)
    try:
        yield github
    finally:
        server.shutdown()
        server.server_close()
