"""The HTTP endpoints: /healthz, /readyz, /status, /metrics and POST /hooks/github (push, pull_request, issue_comment)."""

from __future__ import annotations

import hashlib
import json
import logging
from http import HTTPStatus
from typing import Any, Callable, Optional, Protocol

from prometheus_client import CONTENT_TYPE_LATEST

from reconciler.settings import ServiceConfig

from .delivery_log import FILE_NAME, DeliveryLog
from .github_webhook import pushed_stacks, signature_matches
from .http_messages import BadRequest, HttpRequest, HttpResponse, error_response, json_response, shown
from .http_server import BoundedHttpServer, ServerLimits
from .request_checks import (
    allowed_host_names,
    check_bearer,
    check_host,
    github_delivery,
    github_event,
    github_signature,
    is_loopback,
)

log = logging.getLogger("reconciler.http")
# Events whose handling is the previews' business (who may preview, comment commands).
PREVIEW_EVENTS = ("pull_request", "issue_comment")
PROBES = ("/healthz", "/readyz")


class ServiceView(Protocol):
    config: ServiceConfig

    def healthy(self) -> bool: ...

    def ready(self) -> bool: ...

    def status(self) -> dict[str, Any]: ...

    def metrics(self) -> bytes: ...

    def trigger(self, stacks: list[str], reason: str) -> None: ...

    def preview_pull_request(self, event: str, payload: Any) -> dict[str, Any]: ...


class Endpoints:
    """Answers one complete request; runs on the server's worker threads."""

    def __init__(self, service: ServiceView, listen_host: str, deliveries: DeliveryLog) -> None:
        self._service = service
        self._deliveries = deliveries
        settings = service.config.http
        self._hosts = allowed_host_names(listen_host, settings.allowed_hosts)
        protect = settings.status_auth == "always" or not is_loopback(listen_host)
        self._status_token = settings.status_token.value if settings.status_token and protect else None
        self._routes: dict[str, tuple[str, Callable[[HttpRequest], HttpResponse]]] = {
            "/healthz": ("GET", lambda _: _probe(service.healthy())),
            "/readyz": ("GET", lambda _: _probe(service.ready())),
            "/status": ("GET", self._guarded(lambda: json_response(HTTPStatus.OK, service.status()))),
            "/metrics": ("GET", self._guarded(lambda: HttpResponse(HTTPStatus.OK, service.metrics(), CONTENT_TYPE_LATEST))),
            "/hooks/github": ("POST", self._github_event),
        }

    def __call__(self, request: HttpRequest) -> HttpResponse:
        # Probes come from kubelets and load balancers that send an address as Host; they tell nothing.
        if request.path not in PROBES:
            check_host(request, self._hosts)
        route = self._routes.get(request.path)
        if route is None:
            return error_response(HTTPStatus.NOT_FOUND, f"no such endpoint {shown(request.path)!r}; try /status, or POST webhooks to /hooks/github")
        method, answer = route
        if request.method != method and not (method == "GET" and request.method == "HEAD"):
            return error_response(HTTPStatus.METHOD_NOT_ALLOWED, f"{request.path} answers {method} only", headers=(("Allow", method),))
        return answer(request)

    def _guarded(self, answer: Callable[[], HttpResponse]) -> Callable[[HttpRequest], HttpResponse]:
        def guarded(request: HttpRequest) -> HttpResponse:
            if self._status_token is not None:
                check_bearer(request, self._status_token)
            return answer()

        return guarded

    def _github_event(self, request: HttpRequest) -> HttpResponse:
        settings = self._service.config.webhook
        if settings.secret is None:
            return error_response(HTTPStatus.NOT_FOUND, "webhooks are off: set webhook.secret in the reconciler config")
        if not signature_matches(settings.secret.value, request.body, github_signature(request)):
            log.warning("webhook refused: missing or bad X-Hub-Signature-256", extra={"remote": request.peer})
            return error_response(HTTPStatus.UNAUTHORIZED, "missing or bad X-Hub-Signature-256")
        event, delivery = github_event(request), github_delivery(request)
        keys = (f"body:{hashlib.sha256(request.body).hexdigest()}", *([f"delivery:{delivery}"] if delivery else []))
        if not self._deliveries.first_time(*keys):
            log.info("webhook %s %s already seen: nothing triggered", event, delivery or "(no delivery id)")
            return json_response(HTTPStatus.OK, {"already_seen": True, "triggered": []})
        try:
            return self._act_on(event, delivery, request.body)
        except Exception:
            self._deliveries.forget(*keys)
            raise

    def _act_on(self, event: str, delivery: Optional[str], body: bytes) -> HttpResponse:
        if event == "ping":
            return json_response(HTTPStatus.OK, {"pong": True})
        if event != "push" and event not in PREVIEW_EVENTS:
            return json_response(HTTPStatus.ACCEPTED, {"triggered": [], "ignored": f"event {event!r} is not push, {' or '.join(PREVIEW_EVENTS)}"})
        payload = _json_body(body)
        if event in PREVIEW_EVENTS:
            answer = self._service.preview_pull_request(event, payload)
            ignored = answer.get("ignored")
            log.info("webhook %s %s: previewing %s%s", event, delivery, answer.get("previewing") or "nothing", f" ({ignored})" if ignored else "")
            return json_response(HTTPStatus.ACCEPTED, answer)
        stacks = pushed_stacks(payload, self._service.config.stacks)
        if stacks:
            self._service.trigger(stacks, "webhook")
        ref = payload.get("ref") if isinstance(payload, dict) else None
        log.info("webhook push %s for %s: triggered %s", delivery, shown(str(ref)), stacks or "nothing")
        return json_response(HTTPStatus.ACCEPTED, {"triggered": stacks})


def _probe(ok: bool) -> HttpResponse:
    if ok:
        return HttpResponse(HTTPStatus.OK, b"ok\n", "text/plain; charset=utf-8")
    return HttpResponse(HTTPStatus.SERVICE_UNAVAILABLE, b"not ready\n", "text/plain; charset=utf-8")


def _json_body(body: bytes) -> Any:
    try:
        return json.loads(body)
    except ValueError:
        raise BadRequest("the body is not JSON") from None


class HttpApi:
    """The endpoints on host:port, served from start() until close(); binding errors raise OSError here."""

    def __init__(self, service: ServiceView, host: str, port: int) -> None:
        config = service.config
        self._deliveries = DeliveryLog(config.state_dir / FILE_NAME)
        limits = ServerLimits(config.http.max_connections, config.http.request_timeout, config.http.workers, config.webhook.max_body_bytes)
        try:
            self._server = BoundedHttpServer(Endpoints(service, host, self._deliveries), host, port, limits)
        except OSError:
            self._deliveries.close()
            raise
        if not is_loopback(host):
            if config.http.status_token is None:
                log.warning("listening on %s without http.status_token: /status and /metrics are open to the network", host)
            if not config.http.allowed_hosts:
                log.warning("listening on %s without http.allowed_hosts: only requests naming %s are answered",
                            host, ", ".join(sorted(allowed_host_names(host, ()))))

    @property
    def port(self) -> int:
        return self._server.port

    def start(self) -> None:
        self._server.start()

    def close(self) -> None:
        self._server.close()
        self._deliveries.close()
