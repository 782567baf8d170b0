"""The HTTP endpoints: /healthz, /readyz, /status, /metrics and POST /hooks/github (push and pull_request)."""

from __future__ import annotations

import json
import logging
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Optional, Protocol

from prometheus_client import CONTENT_TYPE_LATEST

from reconciler.settings import ServiceConfig

from .github_webhook import pushed_stacks, signature_is_valid

log = logging.getLogger("reconciler.http")


class ServiceView(Protocol):
    config: ServiceConfig

    def healthy(self) -> bool: ...

    def ready(self) -> bool: ...

    def status(self) -> dict[str, Any]: ...

    def metrics(self) -> bytes: ...

    def trigger(self, stacks: list[str], reason: str) -> None: ...

    def preview_pull_request(self, payload: Any) -> dict[str, Any]: ...


def _handler(service: ServiceView) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "pulumi-gitops-reconciler"
        protocol_version = "HTTP/1.1"
        # A client that stops sending mid-request must not hold a thread forever.
        timeout = 15

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
            log.debug("%s %s", self.address_string(), format % args)

        def _send(self, status: HTTPStatus, body: bytes, content_type: str = "application/json", close: bool = False) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            if close:
                self.send_header("Connection", "close")
                self.close_connection = True
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def _json(self, status: HTTPStatus, data: Any, close: bool = False) -> None:
            self._send(status, json.dumps(data, indent=None, sort_keys=True).encode() + b"\n", close=close)

        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            routes: dict[str, Callable[[], None]] = {
                "/healthz": lambda: self._probe(service.healthy()),
                "/readyz": lambda: self._probe(service.ready()),
                "/status": lambda: self._json(HTTPStatus.OK, service.status()),
                "/metrics": lambda: self._send(HTTPStatus.OK, service.metrics(), CONTENT_TYPE_LATEST),
            }
            route = routes.get(self.path.split("?", 1)[0])
            if route is None:
                self._json(HTTPStatus.NOT_FOUND, {"error": f"no such endpoint {self.path}; try /status"})
            else:
                route()

        def _probe(self, ok: bool) -> None:
            status = HTTPStatus.OK if ok else HTTPStatus.SERVICE_UNAVAILABLE
            self._send(status, b"ok\n" if ok else b"not ready\n", "text/plain; charset=utf-8")

        def do_POST(self) -> None:  # noqa: N802
            if self.path.split("?", 1)[0] != "/hooks/github":
                self._json(HTTPStatus.NOT_FOUND, {"error": f"no such endpoint {self.path}; webhooks go to /hooks/github"}, close=True)
                return
            self._github_event()

        def _github_event(self) -> None:
            settings = service.config.webhook
            if settings.secret is None:
                self._json(HTTPStatus.NOT_FOUND, {"error": "webhooks are off: set webhook.secret in the reconciler config"}, close=True)
                return
            length = self._content_length()
            if length is None:
                return
            if length > settings.max_body_bytes:
                # Never read it: the connection is closed with the answer.
                self._json(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, {"error": f"body over {settings.max_body_bytes} bytes"}, close=True)
                return
            body = self.rfile.read(length)
            if not signature_is_valid(settings.secret.value, body, self.headers.get("X-Hub-Signature-256")):
                log.warning("webhook refused: missing or bad X-Hub-Signature-256", extra={"remote": self.address_string()})
                self._json(HTTPStatus.UNAUTHORIZED, {"error": "missing or bad X-Hub-Signature-256"})
                return
            event = self.headers.get("X-GitHub-Event", "")
            if event == "ping":
                self._json(HTTPStatus.OK, {"pong": True})
                return
            if event not in ("push", "pull_request"):
                self._json(HTTPStatus.ACCEPTED, {"triggered": [], "ignored": f"event {event!r} is neither push nor pull_request"})
                return
            try:
                payload = json.loads(body)
            except ValueError:
                self._json(HTTPStatus.BAD_REQUEST, {"error": "the body is not JSON"})
                return
            if event == "pull_request":
                answer = service.preview_pull_request(payload)
                log.info("webhook pull_request: previewing %s%s", answer["previewing"] or "nothing",
                         f" ({answer['ignored']})" if answer.get("ignored") else "")
                self._json(HTTPStatus.ACCEPTED, answer)
                return
            stacks = pushed_stacks(payload, service.config.stacks)
            if stacks:
                service.trigger(stacks, "webhook")
            log.info("webhook push for %s: triggered %s", payload.get("ref"), stacks or "nothing")
            self._json(HTTPStatus.ACCEPTED, {"triggered": stacks})

        def _content_length(self) -> Optional[int]:
            header = self.headers.get("Content-Length")
            if header is None or not header.isdigit():
                self._json(HTTPStatus.LENGTH_REQUIRED, {"error": "Content-Length is required"}, close=True)
                return None
            return int(header)

    return Handler


class HttpApi:
    """The endpoints, served on their own threads until close()."""

    def __init__(self, service: ServiceView, host: str, port: int) -> None:
        self._server = ThreadingHTTPServer((host, port), _handler(service))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="http", daemon=True)

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    def start(self) -> None:
        self._thread.start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
