"""Fencing by time and Lease-aware recovery, with a real replica (`python -m reconciler run`), the real pulumi CLI
and the local API server; nothing of the API is mocked.

- A replica whose way to the API server is cut (a TCP proxy it reaches the API server through, closed) stops its
  running `pulumi` before the stack's Lease, as it was last renewed on the server, runs out.
- A lock file that a replica on another host left (written as the diy backend writes it, naming that host) is
  kept while that replica's heartbeat Lease is renewed, and released once the heartbeat has stood still longer
  than the lease duration plus the kill grace: the stack converges long before `lock_stale_after`.
"""

from __future__ import annotations

import datetime
import json
import threading
import time
import uuid
from pathlib import Path

import pytest
from kubernetes import client, config

from reconciler.coordination.lease_api import HOST_ANNOTATION, REPLICA, LeaseApi, lease_name
from reconciler.settings import CoordinationSettings
from testsupport.lease_namespaces import lease_namespace
from testsupport.reconciler_testing import TINY_PROJECT, ServiceProcess, free_port, stack_locks, tiny_stack, write_config
from testsupport.replica_fleet import descendants
from testsupport.stub_pulumi import process_alive
from testsupport.tcp_proxy import TcpProxy, api_server_address, proxied_kubeconfig

pytestmark = pytest.mark.e2e
LEASE_DURATION, RENEW_EVERY, KILL_GRACE = 6.0, 1.0, 2.0
FAR_HOST, FAR_REPLICA = "far-host-7f9c", "replica-far"


@pytest.fixture
def kubeconfig(local_env) -> Path:
    return Path(local_env["KUBECONFIG"])


@pytest.fixture
def namespace(kubeconfig):
    with lease_namespace(kubeconfig) as name:
        yield name


@pytest.fixture
def start_replica(tmp_path, remote, engine_env, namespace):
    remote.commit("tiny project", TINY_PROJECT)
    started: list[ServiceProcess] = []

    def start(kubeconfig: Path) -> ServiceProcess:
        port = free_port()
        path = write_config(
            tmp_path / "reconciler.yaml", [tiny_stack(remote, tmp_path / "backend", lock_stale_after="2h")],
            listen=f"127.0.0.1:{port}", retry={"concurrent_delay": "1s", "unreachable_delay": "1s", "backoff_base": "1s"},
            coordination={"kubeconfig": str(kubeconfig), "namespace": namespace, "replica_id": "replica-near",
                          "lease_duration": f"{LEASE_DURATION:g}s", "renew_every": f"{RENEW_EVERY:g}s",
                          "kill_grace": f"{KILL_GRACE:g}s"},
        )
        service = ServiceProcess(path, engine_env, tmp_path / "service.log", port)
        started.append(service)
        service.wait_until(lambda: service.stack("tiny")["last_applied_commit"] == remote.head(), 180, "the first apply")
        return service

    yield start
    for service in started:
        service.stop()


def test_a_replica_cut_off_from_the_api_server_stops_its_pulumi_before_its_lease_runs_out(
        start_replica, remote, tmp_path, kubeconfig, namespace):
    proxy = TcpProxy(api_server_address(kubeconfig))
    try:
        service = start_replica(proxied_kubeconfig(kubeconfig, proxy, tmp_path / "proxied-kubeconfig"))
        remote.commit("a slow update", {"slow.txt": "120", "things.txt": "a\nb\nc\nd\n"})
        cli_group = service.wait_until(lambda: stack_locks(tmp_path / "backend") and pulumi_group(service.process.pid),
                                       120, "pulumi up holding the stack's lock")
        proxy.cut()
        cut_at = time.time()
        gone_at = wait_for_exit(cli_group, timeout=30)
        lease = read_stack_lease(kubeconfig, namespace, "tiny")
        runs_out_at = lease.spec.renew_time.timestamp() + lease.spec.lease_duration_seconds

        assert lease.spec.holder_identity == "replica-near"
        assert gone_at < runs_out_at, f"pulumi lived {gone_at - runs_out_at:.1f}s past the Lease's end"
        assert gone_at - cut_at < LEASE_DURATION
        entry = service.wait_until(lambda: stack_with_reason(service, "LeaseLost"), 30, "the run recorded as LeaseLost")
        assert entry["needs_recovery"] and entry["last_applied_commit"] != remote.head()

        # Back in touch, the replica takes its stack again, recovers what the stopped run left, and converges.
        proxy.restore()
        fast = remote.commit("a quick update", {"slow.txt": None})
        service.wait_until(lambda: service.stack("tiny")["last_applied_commit"] == fast, 180, "the stack at the new head")
        assert not stack_locks(tmp_path / "backend")
    finally:
        proxy.cut()


def test_a_lock_left_on_another_host_waits_while_its_replica_lives_and_goes_once_its_heartbeat_is_stale(
        start_replica, remote, tmp_path, kubeconfig, namespace):
    service = start_replica(kubeconfig)
    far = LeaseApi(CoordinationSettings(kubeconfig, namespace, LEASE_DURATION, RENEW_EVERY, FAR_REPLICA), "far.yaml")
    heartbeat = far.create(REPLICA, FAR_REPLICA, FAR_REPLICA, LEASE_DURATION, {HOST_ANNOTATION: FAR_HOST})
    lock, written_at = write_far_lock(tmp_path / "backend"), time.time()
    head = remote.commit("an update", {"things.txt": "a\nb\nc\nd\n"})

    beating, last_beat = threading.Event(), [time.time()]

    def beat() -> None:
        lease = heartbeat
        while not beating.wait(RENEW_EVERY):
            lease = far.write(lease, FAR_REPLICA, LEASE_DURATION)
            last_beat[0] = time.time()
    beater = threading.Thread(target=beat, daemon=True)
    beater.start()
    try:
        # The update is refused by the lock (LockHeld), and so is the recovery, which names the replica.
        held = service.wait_until(lambda: recovery_refused(service), 120, "the recovery refused by the lock")
        assert f"{FAR_REPLICA}, alive" in held["error"] and FAR_HOST in held["error"]
        time.sleep(3 * LEASE_DURATION)  # longer than any bound the rule could use: the live replica's lock stays
        assert lock.exists() and service.stack("tiny")["last_applied_commit"] != head
    finally:
        beating.set()
        beater.join()

    released_at = wait_for(lambda: not lock.exists() and time.time(), 120, "the far replica's lock released")
    assert released_at - last_beat[0] > LEASE_DURATION + KILL_GRACE
    service.wait_until(lambda: service.stack("tiny")["last_applied_commit"] == head, 120, "the stack at the new head")
    assert released_at - written_at < 600  # a small part of lock_stale_after (2 h), the only way out without the rule


# Helpers

def pulumi_group(service_pid: int) -> list[int]:
    """The running pulumi CLI's process group (the CLI, its language host, the program), once it has one."""
    clis = [pid for pid in descendants(service_pid) if comm(pid) == "pulumi"]
    if not clis:
        return []
    return [pid for pid in descendants(service_pid) if process_group(pid) == clis[0]]


def wait_for_exit(pids: list[int], timeout: float) -> float:
    """When the last of `pids` was gone from /proc (or a zombie)."""
    return wait_for(lambda: not any(process_alive(pid) for pid in pids) and time.time(), timeout, "pulumi to be gone")


def wait_for(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")


def stack_with_reason(service: ServiceProcess, reason: str):
    entry = service.stack("tiny")
    return entry if entry["reason"] == reason else None


def recovery_refused(service: ServiceProcess):
    entry = stack_with_reason(service, "LockHeld")
    return entry if entry and "the stack is locked by" in entry["error"] else None


def read_stack_lease(kubeconfig: Path, namespace: str, stack: str) -> client.V1Lease:
    api = client.CoordinationV1Api(config.new_client_from_config(config_file=str(kubeconfig)))
    return api.read_namespaced_lease(lease_name("stack", stack), namespace)


def write_far_lock(backend: Path) -> Path:
    """A lock as pkg/backend/diy/lock.go writes it, by a pulumi on the far replica's host."""
    folder = backend / ".pulumi" / "locks" / "organization" / "tiny" / "dev"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{uuid.uuid4()}.json"
    taken = datetime.datetime.now(datetime.timezone.utc).isoformat().replace("+00:00", "Z")
    path.write_text(json.dumps({"pid": 4242, "username": "reconciler", "hostname": FAR_HOST, "timestamp": taken}))
    return path


def comm(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return ""


def process_group(pid: int) -> int:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return -1
    return int(stat[stat.rindex(")") + 2:].split()[2])
