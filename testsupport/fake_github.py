"""A small GitHub: the issue-comment and commit-status endpoints and GET /user of the REST API, served on 127.0.0.1,
recording every request."""

from __future__ import annotations

import http.server
import json
import re
import threading
import time
import urllib.parse
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Iterator, Optional


@dataclass
class RecordedRequest:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]  # lower-case names
    body: Optional[Any]
    at: float = field(default_factory=time.monotonic)  # when it arrived


@dataclass
class FakeGitHub:
    """The issue-comment endpoints of the GitHub REST API, with real pagination, auth checks and comment authors."""

    url: str = ""
    token: str = "ghs_FAKEtoken0123456789abcdefABCDEF"
    # The token's account; GET /user answers it unless the token is an app installation's (403, like GitHub).
    login: str = "preview-bot"
    installation_token: bool = False
    pulls: set[tuple[str, str, int]] = field(default_factory=set)
    # What GET /repos/{owner}/{repo}/pulls/{number} answers, for the pull requests given one.
    pull_details: dict[tuple[str, str, int], dict[str, Any]] = field(default_factory=dict)
    comments: list[dict[str, Any]] = field(default_factory=list)
    requests: list[RecordedRequest] = field(default_factory=list)
    # (status, JSON body, extra headers) answered to every request when set.
    failure: Optional[tuple[int, dict[str, Any], dict[str, str]]] = None
    # Answered to the next requests, one each, before anything else (a GitHub that fails, then recovers); None: as usual.
    answers: list[Optional[tuple[int, dict[str, Any], dict[str, str]]]] = field(default_factory=list)
    # Every answer waits for it (clear it to hold GitHub's answers, set it to let them go).
    gate: threading.Event = field(default_factory=lambda: _opened(threading.Event()))
    # The commit statuses created: {"repository", "sha", and the JSON body's state, context, description, target_url}.
    statuses: list[dict[str, Any]] = field(default_factory=list)
    next_link_host: Optional[str] = None
    edited_foreign: list[int] = field(default_factory=list)  # ids of comments by others that were edited
    _next_id: int = 1000

    def add_pull(self, owner: str, repo: str, number: int) -> None:
        self.pulls.add((owner, repo, number))

    def add_comment(self, owner: str, repo: str, number: int, body: str, author: Optional[str] = None) -> int:
        """A comment written by `author` (default: the token's own account)."""
        self._next_id += 1
        self.comments.append(
            {"id": self._next_id, "owner": owner, "repo": repo, "number": number, "body": body, "author": author or self.login,
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
        self.gate.wait(60)
        scripted = self.answers.pop(0) if self.answers else None
        if scripted is not None:
            return scripted
        if self.failure is not None:
            return self.failure
        if headers.get("authorization") != f"Bearer {self.token}":
            return 401, {"message": "Bad credentials"}, {}
        if parsed.path == "/user" and method == "GET":
            if self.installation_token:
                return 403, {"message": "Resource not accessible by integration"}, {}
            return 200, {"login": self.login, "id": 1, "type": "Bot" if self.login.endswith("[bot]") else "User"}, {}

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
        status = re.fullmatch(r"/repos/([^/]+)/([^/]+)/statuses/([0-9a-f]{40})", parsed.path)
        if status and method == "POST":
            return self._create_status(f"{status.group(1)}/{status.group(2)}", status.group(3), body)
        pull = re.fullmatch(r"/repos/([^/]+)/([^/]+)/pulls/(\d+)", parsed.path)
        if pull and method == "GET":
            details = self.pull_details.get((pull.group(1), pull.group(2), int(pull.group(3))))
            return (200, details, {}) if details is not None else (404, {"message": "Not Found"}, {})
        editing = re.fullmatch(r"/repos/([^/]+)/([^/]+)/issues/comments/(\d+)", parsed.path)
        if editing and method == "PATCH":
            comment = self._by_id(int(editing.group(3)))
            if comment is None or (comment["owner"], comment["repo"]) != (editing.group(1), editing.group(2)):
                return 404, {"message": "Not Found"}, {}
            if comment["author"].casefold() != self.login.casefold():
                # A token with write access may edit anyone's comment: the refusal is the client's to make.
                self.edited_foreign.append(comment["id"])
            comment["body"] = body["body"]
            return 200, self._public(comment), {}
        return 404, {"message": "Not Found"}, {}

    def _create_status(self, repository: str, sha: str, body: Any) -> tuple[int, Any, dict[str, str]]:
        """GitHub's checks: a known state, a context, a description of at most 140 characters."""
        if (not isinstance(body, dict) or body.get("state") not in ("error", "failure", "pending", "success")
                or len(str(body.get("description", ""))) > 140 or not body.get("context")):
            return 422, {"message": "Validation Failed", "errors": [{"message": "state, context or description"}]}, {}
        self.statuses.append({"repository": repository, "sha": sha, **body})
        return 201, {"id": len(self.statuses), "state": body["state"], "context": body["context"]}, {}

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
        return {"id": comment["id"], "body": comment["body"], "html_url": comment["html_url"], "user": {"login": comment["author"]}}


def _opened(event: threading.Event) -> threading.Event:
    event.set()
    return event


@contextmanager
def serve_fake_github() -> Iterator[FakeGitHub]:
    """A FakeGitHub served in a thread until the block ends; its `url` is the API root."""
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
    try:
        yield github
    finally:
        server.shutdown()
        server.server_close()
