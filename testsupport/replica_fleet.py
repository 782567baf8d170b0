"""Replicas of `python -m reconciler run` sharing tiny stacks through Kubernetes Leases and one file backend.

Each replica has its own config (replica id, port) and state directory; all name the same stacks, the
same Git remote and the same Pulumi backend folder, and hold their Leases in one namespace of the
local API server. What the test and the benchmark read comes from outside the replicas: the Lease
objects, each replica's /status, its status database, and `pulumi stack history` on the backend.
"""

from __future__ import annotations

import collections
import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

from reconciler.status.store import StatusStore
from testsupport.lease_namespaces import holders
from testsupport.process_tree import descendants
from testsupport.reconciler_testing import GitRemote, ServiceProcess, free_port, stack_locks, tiny_stack, tiny_stack_history, write_config

POLL_S = 0.25


@dataclass(frozen=True)
class Run:
    stack: str
    replica: str
    started_at: float
    finished_at: float  # a run the replica died in ends at its death
    kind: str
    result: Optional[str]


class Fleet:
    def __init__(self, root: Path, remote: GitRemote, env: dict[str, str], kubeconfig: Path, namespace: str,
                 replicas: int = 3, stacks: int = 12, lease_duration: str = "10s", renew_every: str = "2s") -> None:
        self.root, self.remote, self.env = root, remote, env
        self.kubeconfig, self.namespace = kubeconfig, namespace
        self.backend = root / "backend"  # the shared Pulumi backend
        self.stacks = [f"s{number:02d}" for number in range(1, stacks + 1)]
        self.ids = [f"replica-{number}" for number in range(1, replicas + 1)]
        self.services: dict[str, ServiceProcess] = {}
        self.died_at: dict[str, float] = {}
        entries = [tiny_stack(remote, self.backend, name=name, stack=name, resync_interval="3s") for name in self.stacks]
        self._configs = {}
        for replica in self.ids:
            port = free_port()
            (root / replica).mkdir()
            self._configs[replica] = (port, write_config(
                root / replica / "reconciler.yaml", entries, state_dir=str(self.state_dir(replica)),
                listen=f"127.0.0.1:{port}", workers=2,
                retry={"concurrent_delay": "2s", "unreachable_delay": "2s", "backoff_base": "2s"},
                coordination={"kubeconfig": str(kubeconfig), "namespace": namespace,
                              "lease_duration": lease_duration, "renew_every": renew_every, "replica_id": replica},
            ))

    def state_dir(self, replica: str) -> Path:
        return self.root / replica / "state"

    def start(self) -> None:
        for replica in self.ids:
            port, config = self._configs[replica]
            self.services[replica] = ServiceProcess(config, self.env, self.root / replica / "service.log", port)

    def stop(self) -> None:
        for replica, service in self.services.items():
            if replica not in self.died_at and service.process.poll() is None:
                service.stop()

    def alive(self) -> list[str]:
        return [replica for replica in self.ids if replica in self.services and replica not in self.died_at]

    # What the Leases say

    def holders(self) -> dict[str, str]:
        return {name: holder for name, (holder, _) in holders(self.kubeconfig, self.namespace).items()}

    def spread(self) -> dict[str, int]:
        counts = collections.Counter(self.holders().values())
        return {replica: counts.get(replica, 0) for replica in self.alive()}

    def wait_for_even_spread(self, timeout: float) -> dict[str, int]:
        share = -(-len(self.stacks) // len(self.alive()))

        def even() -> Optional[dict[str, int]]:
            spread = self.spread()
            return spread if sum(spread.values()) == len(self.stacks) and max(spread.values()) <= share else None
        return self.wait(even, timeout, "an even spread")

    # What the replicas did

    def status_of(self, replica: str, stack: str) -> dict[str, Any]:
        return self.services[replica].stack(stack)

    def converged(self, commit: str) -> bool:
        """Every stack's holder (a live replica) has applied the commit."""
        holding = self.holders()
        return all(holding.get(name) in self.alive() and self.status_of(holding[name], name)["last_applied_commit"] == commit
                   for name in self.stacks)

    def runs(self) -> list[Run]:
        now = time.time()
        found = []
        for replica in self.ids:
            store = StatusStore(self.state_dir(replica) / "status.sqlite", read_only=True)
            try:
                for row in store.runs(limit=100_000):
                    end = row["finished_at"] or self.died_at.get(replica, now)
                    found.append(Run(row["stack"], replica, row["started_at"], end, row["kind"], row["result"]))
            finally:
                store.close()
        return found

    def history(self, stack: str) -> list[dict[str, Any]]:
        """The stack's updates as the shared backend recorded them (`pulumi stack history`)."""
        return tiny_stack_history(self.remote.clone, self.backend, self.env, stack)

    # A replica dies

    def kill_holder_of_a_locked_stack(self, timeout: float) -> tuple[str, str]:
        """Waits for an update holding a stack's lock, then SIGKILLs its replica and every process under it, as a
        node losing the pod would; returns (replica, stack)."""
        def locked() -> Optional[tuple[str, str]]:
            holding = self.holders()
            for lock in stack_locks(self.backend):
                holder = holding.get(lock.parent.name)
                if holder in self.alive():
                    return holder, lock.parent.name
            return None
        replica, stack = self.wait(locked, timeout, "an update holding a stack's lock")
        kill_tree(self.services[replica].process.pid)
        self.died_at[replica] = time.time()
        self.services[replica].process.wait(timeout=30)
        return replica, stack

    def wait(self, predicate: Any, timeout: float, what: str) -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for replica in self.alive():
                if self.services[replica].process.poll() is not None:
                    raise AssertionError(f"{replica} exited waiting for {what}:\n{self.services[replica].log()[-3000:]}")
            value = predicate()
            if value:
                return value
            time.sleep(POLL_S)
        logs = "\n".join(f"--- {replica}\n{self.services[replica].log()[-2000:]}" for replica in self.alive())
        raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}; holders {self.holders()}\n{logs}")





def kill_tree(pid: int) -> None:
    """SIGKILL to a process and everything under it (the pulumi CLI runs in a process group of its own).
    Each is stopped first, so none starts a child the kill would miss."""
    frozen: set[int] = set()
    found = {pid}
    while found:
        for each in found:
            _signal(each, signal.SIGSTOP)
        frozen |= found
        found = set(descendants(pid)) - frozen
    for each in frozen:
        _signal(each, signal.SIGKILL)


def _signal(pid: int, signum: int) -> None:
    try:
        os.kill(pid, signum)
    except ProcessLookupError:
        pass


@dataclass
class Takeover:
    """What happened when one replica was killed mid-update, as seen from outside."""

    victim: str
    interrupted: str  # the stack whose update the kill cut short
    spread_before: dict[str, int]
    spread_after: dict[str, int]
    killed_at: float
    taken_after: dict[str, float]  # each of the victim's stacks: seconds from the kill until another replica held it
    converged_after: float  # seconds from the kill until every stack's holder had applied the new commit
    commit: str


def kill_one_mid_update(fleet: Fleet, timeout: float = 300) -> Takeover:
    """Starts the replicas, lets them spread and apply the stacks, pushes a slow update, kills the holder of a
    stack in the middle of its update, and follows the takeover until every stack has the update."""
    fleet.start()
    first = fleet.remote.head()
    fleet.wait_for_even_spread(timeout)
    fleet.wait(lambda: fleet.converged(first), timeout, "every stack applied by its holder")
    before = fleet.spread()
    slow = fleet.remote.commit("a slow update", {"slow.txt": "15", "things.txt": "a\nb\nc\nd\n"})
    victim, interrupted = fleet.kill_holder_of_a_locked_stack(timeout)
    killed_at = fleet.died_at[victim]
    orphans = [name for name, holder in fleet.holders().items() if holder == victim]
    taken: dict[str, float] = {}

    def all_taken() -> bool:
        for name, holder in fleet.holders().items():
            if name in orphans and name not in taken and holder != victim:
                taken[name] = time.time() - killed_at
        return len(taken) == len(orphans)
    fleet.wait(all_taken, timeout, "the other replicas to take the dead one's stacks")
    fleet.wait(lambda: fleet.converged(slow), timeout, "every stack at the slow commit")
    converged_after = time.time() - killed_at
    return Takeover(victim, interrupted, before, fleet.spread(), killed_at, taken, converged_after, slow)


def overlapping(spans: list[tuple[float, float, str]]) -> list[tuple[tuple[float, float, str], tuple[float, float, str]]]:
    """Pairs of (start, end, who) that overlap in time."""
    found = []
    latest: Optional[tuple[float, float, str]] = None  # the span that ends last among those started so far
    for span in sorted(spans):
        if latest is not None and span[0] < latest[1]:
            found.append((latest, span))
        if latest is None or span[1] > latest[1]:
            latest = span
    return found
