"""An engine that already answers is reused, and nothing is started."""

import http.server
import socketserver
import threading

import pytest

from localenv import docker_engine
from localenv.settings import load


class _PingHandler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        ok = self.path == "/_ping"
        self.send_response(200 if ok else 404)
        self.end_headers()
        self.wfile.write(b"OK" if ok else b"")

    def log_message(self, *args):
        pass


class _UnixHTTPServer(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True

    def get_request(self):
        request, _ = super().get_request()
        return request, ("local", 0)


@pytest.fixture
def answering_engine(tmp_path):
    """A stand-in engine: a unix socket that answers /_ping like dockerd."""
    path = tmp_path / "engine.sock"
    server = _UnixHTTPServer(str(path), _PingHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"unix://{path}"
    server.shutdown()
    server.server_close()


@pytest.fixture
def state(tmp_path, monkeypatch):
    monkeypatch.setenv("GITOPS_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setattr(docker_engine, "SYSTEM_SOCKET", f"unix://{tmp_path}/no-system-engine.sock")
    return load()


def test_engine_named_by_docker_host_is_reused_without_starting_one(state, answering_engine,
                                                                      monkeypatch):
    monkeypatch.setenv("DOCKER_HOST", answering_engine)

    host, outcome = docker_engine.ensure(state)

    assert host == answering_engine
    assert "not managed here" in outcome
    assert not state.pid_file(docker_engine.NAME).exists()
    assert docker_engine.current_host(state) == answering_engine


def test_socket_without_a_listener_is_not_an_engine(state, tmp_path, monkeypatch):
    dead = tmp_path / "dead.sock"
    dead.touch()
    monkeypatch.setenv("DOCKER_HOST", f"unix://{dead}")

    assert not docker_engine.ping(f"unix://{dead}")
    assert docker_engine.external_host(state) is None
    assert docker_engine.current_host(state) == docker_engine.own_host(state)
