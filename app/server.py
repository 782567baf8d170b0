"""The sample service: a greeting on /, health on /healthz and readiness on /readyz."""

import json
import os
import signal
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

GREETING = os.environ.get("GREETING", "hello")
VERSION = os.environ.get("APP_VERSION", "dev")


class Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        routes = {
            "/": {"greeting": GREETING, "version": VERSION},
            "/healthz": {"status": "ok"},
            "/readyz": {"status": "ready"},
        }
        body = routes.get(self.path)
        self._reply(200 if body else 404, body or {"error": f"no route {self.path}"})

    def _reply(self, status: int, body: dict) -> None:
        payload = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args) -> None:
        sys.stdout.write(json.dumps({"client": self.client_address[0], "request": format % args}) + "\n")


def main() -> None:
    server = ThreadingHTTPServer(("0.0.0.0", int(os.environ.get("PORT", "8080"))), Handler)
    # Kubernetes stops pods with SIGTERM; finish cleanly instead of being killed.
    signal.signal(signal.SIGTERM, lambda *_: server.shutdown())
    server.serve_forever()


if __name__ == "__main__":
    main()
