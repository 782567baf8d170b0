"""Starting a service: reuse a running one, name a failed one with its log."""

import socket

import pytest

from localenv import ports, processes
from localenv.errors import ComponentFailed, PortInUse
from localenv.service import Service, ensure_running, stop
from localenv.settings import Port, load


@pytest.fixture
def settings(tmp_path, monkeypatch):
    monkeypatch.setenv("GITOPS_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("LOCALENV_START_TIMEOUT", "2")
    return load()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def listener(port: int) -> Service:
    """A real server: python's http.server on PORT, ready once it accepts."""
    return Service(
        "web",
        lambda: ["python3", "-m", "http.server", "--bind", "127.0.0.1", str(port)],
        lambda: ports.accepts_connections(port),
        port=Port(port, "WEB_PORT"),
    )


def test_running_service_is_detected_and_not_restarted(settings):
    service = listener(free_port())
    try:
        assert ensure_running(service, settings) == "started"
        pid = processes.running_pid(settings.pid_file("web"))

        assert ensure_running(service, settings) == "already running"
        assert processes.running_pid(settings.pid_file("web")) == pid
    finally:
        assert stop(service, settings)
    assert not settings.pid_file("web").exists()


def test_service_that_exits_is_named_with_its_log_tail(settings):
    lines = "; ".join(f"echo line-{n}" for n in range(30))
    crashing = Service("crasher", lambda: ["sh", "-c", f"{lines}; echo fatal: bad flag; exit 3"],
                       lambda: False)

    with pytest.raises(ComponentFailed) as raised:
        ensure_running(crashing, settings)

    message = str(raised.value)
    assert message.startswith("crasher exited while starting")
    assert "fatal: bad flag" in message
    assert "line-29" in message and "line-5\n" not in message, "only the last lines"
    assert not settings.pid_file("crasher").exists()


def test_service_never_ready_times_out_naming_it(settings):
    stuck = Service("stuck", lambda: ["sleep", "60"], lambda: False)
    try:
        with pytest.raises(ComponentFailed, match=r"^stuck was not ready after 2s"):
            ensure_running(stuck, settings)
    finally:
        stop(stuck, settings)


def test_port_taken_by_another_program_stops_before_starting(settings):
    with socket.socket() as other:
        other.bind(("127.0.0.1", 0))
        other.listen()
        service = listener(other.getsockname()[1])

        with pytest.raises(PortInUse, match="for web is already in use"):
            ensure_running(service, settings)
    assert not settings.pid_file("web").exists()
