"""One replica (`python -m reconciler run`) of the tiny stack, and what tests/reconciler/test_lease_fencing.py and
bench/lease_fencing.py do to it: cut its way to the API server mid-update, or leave a lock of a replica on another
host (a heartbeat Lease naming that host, renewed by hand) in the shared backend.
"""

from __future__ import annotations

import datetime
import json
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kubernetes import client, config

from reconciler.coordination.lease_api import HOST_ANNOTATION, REPLICA, LeaseApi, lease_name
from reconciler.settings import CoordinationSettings
from testsupport.process_tree import descendants
from testsupport.reconciler_testing import (
    GitRemote,
    ServiceProcess,
    free_port,
    stack_locks,
    tiny_stack,
    wait_for,
    write_config,
)
from testsupport.stub_pulumi import process_alive
from testsupport.tcp_proxy import TcpProxy

LEASE_DURATION, RENEW_EVERY, KILL_GRACE = 6.0, 1.0, 2.0
REPLICA_ID = "replica-near"
FAR_HOST, FAR_REPLICA = "far-host-7f9c", "replica-far"


def start_replica(root: Path, remote: GitRemote, env: dict[str, str], kubeconfig: Path, namespace: str) -> ServiceProcess:
    """The replica, once it has applied the remote's head."""
    port = free_port()
    path = write_config(
        root / "reconciler.yaml", [tiny_stack(remote, root / "backend", lock_stale_after="2h")],
        state_dir=str(root / "state"), listen=f"127.0.0.1:{port}",
        retry={"concurrent_delay": "1s", "unreachable_delay": "1s", "backoff_base": "1s"},
        coordination={"kubeconfig": str(kubeconfig), "namespace": namespace, "replica_id": REPLICA_ID,
                      "lease_duration": f"{LEASE_DURATION:g}s", "renew_every": f"{RENEW_EVERY:g}s",
                      "kill_grace": f"{KILL_GRACE:g}s"},
    )
    service = ServiceProcess(path, env, root / "service.log", port)
    service.wait_until(lambda: service.stack("tiny")["last_applied_commit"] == remote.head(), 180, "the first apply")
    return service


@dataclass(frozen=True)
class CutOff:
    """Wall-clock moments (one host: the Lease's renewTime is on the same clock) of a cut mid-update."""

    cut_at: float
    gone_at: float  # the last process of pulumi's group gone from /proc
    lease_ends_at: float  # renewTime + leaseDurationSeconds of the stack's Lease, read from the API server afterwards
    holder: str


def cut_off_mid_update(service: ServiceProcess, remote: GitRemote, backend: Path, proxy: TcpProxy,
                       kubeconfig: Path, namespace: str) -> CutOff:
    remote.commit("a slow update", {"slow.txt": "120", "things.txt": "a\nb\nc\nd\n"})
    group = service.wait_until(lambda: stack_locks(backend) and pulumi_group(service.process.pid), 120,
                               "pulumi up holding the stack's lock")
    proxy.cut()
    cut_at = time.time()
    gone_at = wait_for(lambda: not any(process_alive(pid) for pid in group) and time.time(), 30, "pulumi to be gone")
    api = client.CoordinationV1Api(config.new_client_from_config(config_file=str(kubeconfig)))
    lease = api.read_namespaced_lease(lease_name("stack", "tiny"), namespace)
    return CutOff(cut_at, gone_at, lease.spec.renew_time.timestamp() + lease.spec.lease_duration_seconds,
                  lease.spec.holder_identity)


class FarReplica:
    """A replica on another host as the near one sees it: a heartbeat Lease naming its host, and its lock file."""

    def __init__(self, kubeconfig: Path, namespace: str) -> None:
        self._api = LeaseApi(CoordinationSettings(kubeconfig, namespace, LEASE_DURATION, RENEW_EVERY, FAR_REPLICA), "far.yaml")
        self._lease = self._api.create(REPLICA, FAR_REPLICA, FAR_REPLICA, LEASE_DURATION, {HOST_ANNOTATION: FAR_HOST})
        self.last_beat = time.time()
        self._stop = threading.Event()
        self._beater = threading.Thread(target=self._beat, daemon=True)
        self._beater.start()

    def die(self) -> None:
        """Stops renewing the heartbeat, as a killed or partitioned replica does."""
        self._stop.set()
        self._beater.join()

    def _beat(self) -> None:
        while not self._stop.wait(RENEW_EVERY):
            self._lease = self._api.write(self._lease, FAR_REPLICA, LEASE_DURATION)
            self.last_beat = time.time()


def write_far_lock(backend: Path) -> Path:
    """A lock as pkg/backend/diy/lock.go writes it, by a pulumi on the far replica's host."""
    folder = backend / ".pulumi" / "locks" / "organization" / "tiny" / "dev"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{uuid.uuid4()}.json"
    taken = datetime.datetime.now(datetime.timezone.utc).isoformat().replace("+00:00", "Z")
    path.write_text(json.dumps({"pid": 4242, "username": "reconciler", "hostname": FAR_HOST, "timestamp": taken}))
    return path


def stack_with_reason(service: ServiceProcess, reason: str) -> Any:
    entry = service.stack("tiny")
    return entry if entry["reason"] == reason else None


def recovery_refused(service: ServiceProcess) -> Any:
    """The stack's last pass a recovery refused by a lock (its message names the lock's holder)."""
    entry = stack_with_reason(service, "LockHeld")
    return entry if entry and "the stack is locked by" in entry["error"] else None


def pulumi_group(service_pid: int) -> list[int]:
    """The running pulumi CLI's process group (the CLI, its language host, the program), once there is one."""
    clis = [pid for pid in descendants(service_pid) if _comm(pid) == "pulumi"]
    return [pid for pid in descendants(service_pid) if _process_group(pid) == clis[0]] if clis else []


def _comm(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return ""


def _process_group(pid: int) -> int:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return -1
    return int(stat[stat.rindex(")") + 2:].split()[2])
