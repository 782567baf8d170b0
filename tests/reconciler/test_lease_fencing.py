"""Fencing by time and Lease-aware recovery, with a real replica (`python -m reconciler run`), the real pulumi CLI
and the local API server; nothing of the API is mocked.

- A replica whose way to the API server is cut (a TCP proxy it reaches the API server through, closed) stops its
  running `pulumi` before the stack's Lease, as it was last renewed on the server, runs out.
- A lock file that a replica on another host left (written as the diy backend writes it, naming that host) is
  kept while that replica's heartbeat Lease is renewed, and released once the heartbeat has stood still longer
  than the lease duration plus the kill grace: the stack converges long before `lock_stale_after`.

How long each takes is measured by bench/lease_fencing.py (the same scenarios).
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from testsupport.fenced_replica import (
    FAR_HOST,
    FAR_REPLICA,
    KILL_GRACE,
    LEASE_DURATION,
    REPLICA_ID,
    FarReplica,
    cut_off_mid_update,
    recovery_refused,
    stack_with_reason,
    start_replica,
    write_far_lock,
)
from testsupport.reconciler_testing import TINY_PROJECT, stack_locks, wait_for
from testsupport.tcp_proxy import TcpProxy, api_server_address, proxied_kubeconfig

pytestmark = pytest.mark.e2e


@pytest.fixture
def replica(tmp_path, remote, engine_env, namespace):
    remote.commit("tiny project", TINY_PROJECT)
    started = []

    def start(kubeconfig: Path):
        started.append(start_replica(tmp_path, remote, engine_env, kubeconfig, namespace))
        return started[-1]
    yield start
    for service in started:
        service.stop()


@pytest.fixture
def proxy(kubeconfig):
    proxy = TcpProxy(api_server_address(kubeconfig))
    yield proxy
    proxy.cut()


def test_a_replica_cut_off_from_the_api_server_stops_its_pulumi_before_its_lease_runs_out(
        replica, proxy, remote, tmp_path, kubeconfig, namespace):
    service = replica(proxied_kubeconfig(kubeconfig, proxy, tmp_path / "proxied-kubeconfig"))
    cut = cut_off_mid_update(service, remote, tmp_path / "backend", proxy, kubeconfig, namespace)

    assert cut.holder == REPLICA_ID
    assert cut.gone_at < cut.lease_ends_at, f"pulumi lived {cut.gone_at - cut.lease_ends_at:.1f}s past the Lease's end"
    assert cut.gone_at - cut.cut_at < LEASE_DURATION
    entry = service.wait_until(lambda: stack_with_reason(service, "LeaseLost"), 30, "the run recorded as LeaseLost")
    assert entry["needs_recovery"] and entry["last_applied_commit"] != remote.head()

    # Back in touch, the replica takes its stack again, recovers what the stopped run left, and converges.
    proxy.restore()
    fast = remote.commit("a quick update", {"slow.txt": None})
    service.wait_until(lambda: service.stack("tiny")["last_applied_commit"] == fast, 180, "the stack at the new head")
    assert not stack_locks(tmp_path / "backend")


def test_a_lock_left_on_another_host_waits_while_its_replica_lives_and_goes_once_its_heartbeat_is_stale(
        replica, remote, tmp_path, kubeconfig, namespace):
    service = replica(kubeconfig)
    far = FarReplica(kubeconfig, namespace)
    lock, written_at = write_far_lock(tmp_path / "backend"), time.time()
    head = remote.commit("an update", {"things.txt": "a\nb\nc\nd\n"})
    try:
        # The update is refused by the lock (LockHeld), and so is the recovery, which names the replica.
        held = service.wait_until(lambda: recovery_refused(service), 120, "the recovery refused by the lock")
        assert f"{FAR_REPLICA}, alive" in held["error"] and FAR_HOST in held["error"]
        time.sleep(3 * LEASE_DURATION)  # longer than any bound the rule could use: the live replica's lock stays
        assert lock.exists() and service.stack("tiny")["last_applied_commit"] != head
    finally:
        far.die()

    released_at = wait_for(lambda: not lock.exists() and time.time(), 120, "the far replica's lock released")
    assert released_at - far.last_beat > LEASE_DURATION + KILL_GRACE
    assert released_at - written_at < 600  # a small part of lock_stale_after (2 h), the only way out without the rule
    service.wait_until(lambda: service.stack("tiny")["last_applied_commit"] == head, 120, "the stack at the new head")
