"""A read-only Git host on loopback: git's own `http-backend` behind a small HTTP server.

The reconciler in the cluster fetches its repository the way it would from a Git host, over
HTTP (its config refuses git://, and a hostPath of a root-owned checkout would need
`safe.directory` and a copy of the host's file permissions in the pod). `http-backend` serves
fetches only: pushes need `http.receivepack` and an authenticated user, neither of which is given.

Repositories are served by name: each entry of the served folder is a link to a repository
(`localenv up` links this checkout as `pulumi-gitops`; a test links its own), and
`http://127.0.0.1:PORT/NAME` is its URL.
"""

import argparse
import os
import subprocess
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from . import ports
from .service import Service
from .settings import REPO_DIR, Settings

NAME = "git-server"
# The name this checkout is served under.
PROJECT_REPOSITORY = "pulumi-gitops"


def served_dir(settings: Settings) -> Path:
    return settings.state_dir / "git-served"


def url(settings: Settings, name: str) -> str:
    return f"http://127.0.0.1:{settings.git_port.number}/{name}"


def serve_repository(settings: Settings, name: str, repository: Path) -> str:
    """Links REPOSITORY under NAME (replacing an older link of that name); returns its URL."""
    link = served_dir(settings) / name
    link.parent.mkdir(parents=True, exist_ok=True)
    if link.is_symlink() and Path(os.readlink(link)) == repository:
        return url(settings, name)
    link.unlink(missing_ok=True)
    link.symlink_to(repository)
    return url(settings, name)


def withdraw_repository(settings: Settings, name: str) -> None:
    (served_dir(settings) / name).unlink(missing_ok=True)


def service(settings: Settings) -> Service:
    def argv() -> list[str]:
        serve_repository(settings, PROJECT_REPOSITORY, REPO_DIR)
        return [sys.executable, "-m", "localenv.git_server", "--root", str(served_dir(settings)),
                "--port", str(settings.git_port.number)]

    return Service(NAME, argv, lambda: ports.accepts_connections(settings.git_port.number),
                   port=settings.git_port, env={"PYTHONPATH": str(REPO_DIR)})


class _GitHandler(BaseHTTPRequestHandler):
    """Hands each request to `git http-backend` as a CGI request and relays its answer."""

    root: Path

    def do_GET(self) -> None:
        self._backend()

    def do_POST(self) -> None:
        self._backend()

    def _backend(self) -> None:
        path, _, query = self.path.partition("?")
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "GIT_PROJECT_ROOT": str(self.root),
            "GIT_HTTP_EXPORT_ALL": "1",
            "REQUEST_METHOD": self.command,
            "PATH_INFO": path,
            "QUERY_STRING": query,
            "CONTENT_TYPE": self.headers.get("Content-Type", ""),
            "CONTENT_LENGTH": str(len(body)),
            "REMOTE_ADDR": self.client_address[0],
            "GIT_PROTOCOL": self.headers.get("Git-Protocol", ""),
            "HTTP_CONTENT_ENCODING": self.headers.get("Content-Encoding", ""),
        }
        done = subprocess.run(["git", "http-backend"], input=body, env=env, capture_output=True, timeout=300)
        # http-backend ends its CGI headers with CRLF CRLF.
        head, _, payload = done.stdout.partition(b"\r\n\r\n")
        headers = [line.split(":", 1) for line in head.decode("latin-1").splitlines() if ":" in line]
        status = next((value.strip() for key, value in headers if key.lower() == "status"), "200 OK")
        code, _, reason = status.partition(" ")
        if done.returncode != 0 and not head:
            code, reason = "500", "git http-backend failed"
            self.log_error("git http-backend: %s", done.stderr.decode(errors="replace").strip())
        self.send_response(int(code), reason)
        for key, value in headers:
            if key.lower() != "status":
                self.send_header(key.strip(), value.strip())
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, required=True)
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    _GitHandler.root = args.root
    with ThreadingHTTPServer(("127.0.0.1", args.port), _GitHandler) as server:
        server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
