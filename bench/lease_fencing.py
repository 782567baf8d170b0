"""Benchmark: how close to its Lease's end a cut-off replica stops its pulumi, and how soon a lock left by a
replica on another host is released once that replica's heartbeat stops.

One `python -m reconciler run` replica of the tiny stack (lease_duration 6s, renew_every 1s, kill_grace 2s) on
the local API server. Fencing: a slow update runs, the TCP proxy the replica reaches the API server through is
closed, and the time until pulumi's whole process group is gone from /proc is compared with the stack Lease's
end (renewTime + leaseDurationSeconds, read from the API server). Recovery: a lock file naming another host is
written while a heartbeat Lease naming that host is renewed; the heartbeat stops, and the time until the lock is
released and the stack converges is taken from its last renewal. The scenarios are the ones
tests/reconciler/test_lease_fencing.py checks for correctness.

Run: source tools/env.sh && eval "$(GITOPS_STATE_DIR=$PWD/.state .venv/bin/python -m localenv env)" &&
     .venv/bin/python bench/lease_fencing.py [--runs N]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from reconciler_common import engine_environment, local_environment, summary

from testsupport.fenced_replica import (
    KILL_GRACE,
    LEASE_DURATION,
    RENEW_EVERY,
    FarReplica,
    cut_off_mid_update,
    recovery_refused,
    start_replica,
    wait_for,
    write_far_lock,
)
from testsupport.lease_namespaces import lease_namespace
from testsupport.reconciler_testing import TINY_PROJECT, GitRemote
from testsupport.tcp_proxy import TcpProxy, api_server_address, proxied_kubeconfig


def fencing(scratch: Path, kubeconfig: Path) -> tuple[float, float]:
    """(seconds from the cut until pulumi was gone, seconds left on the Lease then)."""
    remote = GitRemote(scratch / "remote")
    remote.commit("tiny project", TINY_PROJECT)
    proxy = TcpProxy(api_server_address(kubeconfig))
    with lease_namespace(kubeconfig) as namespace:
        service = start_replica(scratch, remote, engine_environment(TINY_PASSPHRASE="bench-passphrase"),
                                proxied_kubeconfig(kubeconfig, proxy, scratch / "proxied-kubeconfig"), namespace)
        try:
            cut = cut_off_mid_update(service, remote, scratch / "backend", proxy, kubeconfig, namespace)
        finally:
            proxy.cut()
            service.stop()
    return cut.gone_at - cut.cut_at, cut.lease_ends_at - cut.gone_at


def far_lock(scratch: Path, kubeconfig: Path) -> tuple[float, float]:
    """(seconds from the far heartbeat's last renewal until its lock was released, until the stack converged)."""
    remote = GitRemote(scratch / "remote")
    remote.commit("tiny project", TINY_PROJECT)
    with lease_namespace(kubeconfig) as namespace:
        service = start_replica(scratch, remote, engine_environment(TINY_PASSPHRASE="bench-passphrase"), kubeconfig, namespace)
        try:
            far = FarReplica(kubeconfig, namespace)
            lock = write_far_lock(scratch / "backend")
            head = remote.commit("an update", {"things.txt": "a\nb\nc\nd\n"})
            service.wait_until(lambda: recovery_refused(service), 120, "the recovery refused by the lock")
            far.die()
            released_at = wait_for(lambda: not lock.exists() and time.time(), 120, "the lock released")
            service.wait_until(lambda: service.stack("tiny")["last_applied_commit"] == head, 120, "convergence")
            converged_at = time.time()
        finally:
            service.stop()
    return released_at - far.last_beat, converged_at - far.last_beat


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1)
    args = parser.parse_args()
    kubeconfig = Path(local_environment()["KUBECONFIG"])
    print(f"lease_duration {LEASE_DURATION:g}s, renew_every {RENEW_EVERY:g}s, kill_grace {KILL_GRACE:g}s")
    fenced, left, released, converged = [], [], [], []
    for _ in range(args.runs):
        with tempfile.TemporaryDirectory(prefix="reconciler-bench-fencing-") as scratch:
            gone, margin = fencing(Path(scratch), kubeconfig)
        with tempfile.TemporaryDirectory(prefix="reconciler-bench-far-lock-") as scratch:
            release, convergence = far_lock(Path(scratch), kubeconfig)
        print(f"  pulumi gone {gone:.1f}s after the cut, {margin:.1f}s before the Lease's end; far lock released "
              f"{release:.1f}s and stack converged {convergence:.1f}s after the far heartbeat's last renewal")
        for values, value in ((fenced, gone), (left, margin), (released, release), (converged, convergence)):
            values.append(value)
    print(f"pulumi gone after the cut: {summary(fenced)}")
    print(f"left on the Lease when it was gone: {summary(left)}")
    print(f"far lock released after the last heartbeat: {summary(released)}")
    print(f"converged after the last heartbeat: {summary(converged)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
