"""Two (or more) real `python -m reconciler run` replicas sharing tiny stacks through Leases, started one by one.

A test subclasses ReplicaPair to name its stacks (`entries`, on the shared file backend `backend`) and adds what
it reads; the replicas' configs differ only in their id, port and state directory. testsupport/replica_fleet.py is
the benchmark's many-stack variant.
"""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import Any, Iterator, Optional, TypeVar

from testsupport.lease_namespaces import holders, lease_namespace
from testsupport.reconciler_testing import GitRemote, ServiceProcess, free_port, write_config


class ReplicaPair:
    def __init__(self, root: Path, remote: GitRemote, env: dict[str, str], kubeconfig: Path, namespace: str) -> None:
        self.root, self.remote, self.env, self.kubeconfig, self.namespace = root, remote, env, kubeconfig, namespace
        self.backend = root / "backend"
        self.entries: list[dict[str, Any]] = []
        self.services: dict[str, ServiceProcess] = {}

    def start(self, replica: str) -> ServiceProcess:
        port = free_port()
        (self.root / replica).mkdir(exist_ok=True)  # a restart keeps its state directory
        config = write_config(
            self.root / replica / "reconciler.yaml", self.entries, state_dir=str(self.root / replica / "state"),
            listen=f"127.0.0.1:{port}", workers=2,
            retry={"concurrent_delay": "2s", "unreachable_delay": "2s", "backoff_base": "2s", "backoff_cap": "4s"},
            coordination={"kubeconfig": str(self.kubeconfig), "namespace": self.namespace, "lease_duration": "10s",
                          "renew_every": "2s", "replica_id": replica},
        )
        self.services[replica] = ServiceProcess(config, self.env, self.root / replica / "service.log", port)
        return self.services[replica]

    def holders(self) -> dict[str, str]:
        return {name: holder for name, (holder, _) in holders(self.kubeconfig, self.namespace).items()}

    def entry_of(self, stack: str) -> Optional[dict]:
        """The stack as its holder's /status shows it (each replica's records are current for what it holds)."""
        holder = self.holders().get(stack)
        if holder not in self.services:
            return None
        status, body = self.services[holder].get("/status")
        return next((entry for entry in json.loads(body)["stacks"] if entry["stack"] == stack), None) if status == 200 else None

    def applied(self, stack: str, commit: str) -> bool:
        entry = self.entry_of(stack)
        return entry is not None and entry["last_applied_commit"] == commit

    def stop(self) -> None:
        for service in self.services.values():
            if service.process.poll() is None:
                service.stop()


PairType = TypeVar("PairType", bound=ReplicaPair)


@contextlib.contextmanager
def replicas_in_a_lease_namespace(make: type[PairType], root: Path, remote: GitRemote, env: dict[str, str],
                                  local_env: dict[str, str]) -> Iterator[PairType]:
    """The pair in a Lease namespace of its own on the local API server, every replica stopped at the end."""
    kubeconfig = Path(local_env["KUBECONFIG"])
    with lease_namespace(kubeconfig) as namespace:
        pair = make(root, remote, env, kubeconfig, namespace)
        try:
            yield pair
        finally:
            pair.stop()
