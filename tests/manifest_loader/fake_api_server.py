"""A stand-in Kubernetes API server over real HTTPS on 127.0.0.1, for the requests the dry-run client makes.

It serves /version, discovery of v1 and apps/v1, namespace lookups and
server-side apply PATCHes, and records every request so a test can read
what went over the wire. A test sets the answer for one object's PATCH
(`refuse`) or makes the server hold a PATCH without answering (`hang`).
"""

from __future__ import annotations

import json
import ssl
import threading
import urllib.parse
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Optional

from localenv.certs import Pki

DISCOVERY = {
    "/api/v1": [
        {"name": "configmaps", "kind": "ConfigMap", "namespaced": True},
        {"name": "secrets", "kind": "Secret", "namespaced": True},
        {"name": "namespaces", "kind": "Namespace", "namespaced": False},
    ],
    "/apis/apps/v1": [
        {"name": "deployments", "kind": "Deployment", "namespaced": True},
        {"name": "deployments/scale", "kind": "Scale", "namespaced": True},
    ],
    "/apis/apiextensions.k8s.io/v1": [
        {"name": "customresourcedefinitions", "kind": "CustomResourceDefinition", "namespaced": False},
    ],
}


@dataclass(frozen=True)
class Recorded:
    method: str
    path: str  # without the query
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes


def status_body(code: int, reason: str, message: str, causes: Optional[list[dict[str, str]]] = None) -> dict[str, Any]:
    """A metav1.Status as the API server answers a refusal."""
    status: dict[str, Any] = {"kind": "Status", "apiVersion": "v1", "status": "Failure", "message": message, "reason": reason, "code": code}
    if causes is not None:
        status["details"] = {"causes": causes}
    return status


class FakeApiServer:
    def __init__(self, pki: Pki, namespaces: tuple[str, ...] = ("default",), require_client_cert: bool = False) -> None:
        self.requests: list[Recorded] = []
        self.namespaces = set(namespaces)
        self.answers: dict[str, tuple[int, Any]] = {}  # object name -> (status, body) of its PATCH
        self.hanging: set[str] = set()
        self.release = threading.Event()
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(pki.cert("apiserver"), pki.key("apiserver"))
        if require_client_cert:
            context.load_verify_locations(pki.ca_cert)
            context.verify_mode = ssl.CERT_REQUIRED
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._server.daemon_threads = True
        self._server.handle_error = lambda *_: None  # a refused TLS handshake is what a test expects, not noise to print
        self._server.socket = context.wrap_socket(self._server.socket, server_side=True)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self._server.server_address[1]}"

    def refuse(self, name: str, status: int, body: Any) -> None:
        self.answers[name] = (status, body)

    def hang(self, name: str) -> None:
        self.hanging.add(name)

    def patches(self) -> list[Recorded]:
        return [request for request in self.requests if request.method == "PATCH"]

    def __enter__(self) -> FakeApiServer:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.release.set()
        self._server.shutdown()
        self._server.server_close()

    def answer(self, request: Recorded) -> tuple[int, Any]:
        if request.path == "/version":
            return 200, {"major": "1", "minor": "32", "gitVersion": "v1.32.0"}
        if request.method == "GET" and request.path in DISCOVERY:
            return 200, {"kind": "APIResourceList", "groupVersion": request.path.rpartition("/apis/")[2] or "v1", "resources": DISCOVERY[request.path]}
        if request.method == "GET" and request.path.startswith("/api/v1/namespaces/"):
            name = request.path.rsplit("/", 1)[1]
            if name in self.namespaces:
                return 200, {"kind": "Namespace", "apiVersion": "v1", "metadata": {"name": name}}
            return 404, status_body(404, "NotFound", f'namespaces "{name}" not found')
        if request.method == "PATCH":
            name = urllib.parse.unquote(request.path.rsplit("/", 1)[1])
            if name in self.hanging:
                self.release.wait(30)
            return self.answers.get(name, (200, json.loads(request.body)))
        return 404, status_body(404, "NotFound", "the server could not find the requested resource")


def _handler(server: FakeApiServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as the client reuses one connection per thread

        def log_message(self, *_: object) -> None:
            pass

        def _serve(self) -> None:
            split = urllib.parse.urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            request = Recorded(self.command, split.path, urllib.parse.parse_qs(split.query), dict(self.headers), self.rfile.read(length))
            server.requests.append(request)
            status, body = server.answer(request)
            data = body.encode() if isinstance(body, str) else json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "text/plain" if isinstance(body, str) else "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_PATCH = _serve

    return Handler
