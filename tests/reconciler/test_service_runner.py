"""The service around the scheduler: its probes, its status, and a clean stop on SIGTERM (real HTTP, real signals).

The stacks' remote cannot be read, so every pass fails fast at the source, and the engine is never reached.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import threading
import urllib.request
from pathlib import Path

import pytest

from reconciler.errors import SOURCE_UNREACHABLE
from reconciler.process_setup import redactor_for
from reconciler.service.runner import ReconcilerService
from reconciler.settings import ConfigError, load_config
from reconciler.stack_set import StackSet
from testsupport.reconciler_testing import free_port, tiny_stack, wait_for, write_config
from testsupport.stub_pulumi import StubPulumi


def service_for(tmp_path: Path, remote, port: int = 0) -> ReconcilerService:
    not_a_repo = tmp_path / "not-a-repo"
    not_a_repo.mkdir(exist_ok=True)
    stub = StubPulumi(tmp_path / "cli")
    path = write_config(
        tmp_path / "reconciler.yaml",
        [tiny_stack(remote, tmp_path / "backend", repo={"url": str(not_a_repo)}, secrets_passphrase=None, resync_interval="1h")],
        pulumi=str(stub.command), listen=f"127.0.0.1:{port}",
    )
    config = load_config(path)
    return ReconcilerService(StackSet(config, redactor_for(config)))


@pytest.fixture
def service(tmp_path, remote):
    service = service_for(tmp_path, remote)
    yield service
    if service.scheduler.started():
        service.scheduler.stop()
    service.previews.close()
    service.stacks.store.close()


def test_before_the_scheduler_starts_it_is_healthy_but_not_ready(service):
    assert service.healthy()
    assert not service.ready()


def test_a_running_scheduler_is_ready_and_a_stopped_one_is_neither(service):
    service.scheduler.start()
    assert service.healthy() and service.ready()
    service.scheduler.stop()
    assert not service.ready()
    assert not service.healthy()


def test_status_reports_the_first_pass_and_the_next_run(service):
    service.scheduler.start()
    stack = wait_for(lambda: next((s for s in service.status()["stacks"] if s["result"]), None), 20, "the first pass")
    assert (stack["stack"], stack["result"], stack["reason"]) == ("tiny", "failed", SOURCE_UNREACHABLE)
    assert stack["next_run_at"] is not None
    assert 'reconciler_runs_total{result="failed",stack="tiny"} 1.0' in service.metrics().decode().splitlines()


def test_a_trigger_runs_the_stack_again_at_once(service):
    service.scheduler.start()
    wait_for(lambda: service.stacks.store.stack_state("tiny").failures == 1, 20, "the first failure")
    wait_for(lambda: (service.scheduler.next_due("tiny") or 0) > 5, 20, "the retry to be scheduled")  # in 15 s
    service.trigger(["tiny", "unknown-stack"], "webhook")
    # The second attempt comes well before the 15 s retry.
    wait_for(lambda: service.stacks.store.stack_state("tiny").failures == 2, 10, "the triggered attempt")
    assert service.stacks.store.runs("tiny", limit=1)[0]["attempts"] == 2


def test_serve_answers_until_sigterm_then_stops_cleanly(tmp_path, remote):
    port = free_port()
    service = service_for(tmp_path, remote, port)
    seen: dict[str, object] = {}

    def client() -> None:
        def healthz() -> bool:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as response:
                    return response.status == 200
            except OSError:
                return False

        wait_for(healthz, 20, "/healthz")
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/status", timeout=5) as response:
            seen["status"] = json.loads(response.read())
        os.kill(os.getpid(), signal.SIGTERM)

    handlers = {signum: signal.getsignal(signum) for signum in (signal.SIGTERM, signal.SIGINT)}
    thread = threading.Thread(target=client, daemon=True)
    thread.start()
    try:
        assert service.serve() == 0
    finally:
        for signum, handler in handlers.items():
            signal.signal(signum, handler)
    thread.join(timeout=10)
    assert [entry["stack"] for entry in seen["status"]["stacks"]] == ["tiny"]
    assert not service.scheduler.alive()
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=1).close()


def test_a_port_in_use_is_a_config_problem_naming_listen(tmp_path, remote):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        service = service_for(tmp_path, remote, taken.getsockname()[1])
        try:
            with pytest.raises(ConfigError, match="listen: cannot listen on 127.0.0.1:"):
                service.serve()
        finally:
            service.previews.close()
            service.stacks.store.close()
