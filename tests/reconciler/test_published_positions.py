"""Promotion gates across replicas: each stack's holder publishes its position on the stack's Lease, and a gate on
another replica reads it there, not its own (stale or empty) status store.

Every replica here is a StackLeases of its own (its own API client, rounds run by hand) on the local API server,
with its own status store, and dev/prod reconcilers on scripted workspaces whose recorders are wired the way the
service wires them (replica.share_positions). Replica "a" prefers dev and "b" prod (rendezvous hashing), so after
three rounds a holds dev and b holds prod.
"""

from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path

import pytest
from kubernetes import client, config

from reconciler import promotion
from reconciler.coordination.lease_api import STACK, LeaseApi, lease_name
from reconciler.coordination.positions import POSITION_ANNOTATION
from reconciler.coordination.replica import share_positions
from reconciler.coordination.stack_leases import StackLeases
from reconciler.errors import PROGRAM_ERROR, Temporary
from reconciler.settings import CoordinationSettings
from reconciler.status.store import StatusStore
from testsupport.scripted_stack import ScriptedStack

pytestmark = pytest.mark.e2e
A, B = "a" * 40, "b" * 40
DURATION = 3.0
STACKS = ["dev", "prod"]


@dataclasses.dataclass
class Side:
    """One replica: its Leases, its own status store, and its dev and prod reconcilers."""

    leases: StackLeases
    dev: ScriptedStack
    prod: ScriptedStack


@pytest.fixture
def replicas(kubeconfig, namespace, tiny_spec, tmp_path: Path):
    base = dataclasses.replace(tiny_spec, paths=(), deletion_guard=None, drift_interval=None, resync_interval=3600.0)
    stores: list[StatusStore] = []

    def make(replica_id: str) -> Side:
        settings = CoordinationSettings(kubeconfig, namespace, DURATION, 1.0, replica_id)
        leases = StackLeases(settings, STACKS, LeaseApi(settings, "reconciler.yaml"))
        stores.append(StatusStore(tmp_path / f"{replica_id}.sqlite"))
        dev = ScriptedStack(dataclasses.replace(base, name="dev", stack="dev"), stores[-1], A)
        prod = ScriptedStack(dataclasses.replace(base, name="prod", stack="prod", promote_from="dev"), stores[-1], A)
        for stack in (dev, prod):
            share_positions(stack.reconciler.recorder, leases, stack.spec.name)
        return Side(leases, dev, prod)

    yield make
    for store in stores:
        store.close()


def rounds(*sides: Side, count: int = 3) -> None:
    for _ in range(count):
        for side in sides:
            side.leases.sync()


def split(a: Side, b: Side) -> None:
    rounds(a, b)
    assert (a.leases.held(), b.leases.held()) == (["dev"], ["prod"])


def annotation(kubeconfig: Path, namespace: str, stack: str) -> str:
    api = client.CoordinationV1Api(config.new_client_from_config(config_file=str(kubeconfig)))
    lease = api.read_namespaced_lease(lease_name(STACK, stack), namespace)
    return (lease.metadata.annotations or {}).get(POSITION_ANNOTATION, "")


def waits(done, *phrases: str) -> str:
    run = done.outcome
    assert (run.result.value, run.reason) == ("failed", "PromotionPending"), run.error_message
    for phrase in phrases:
        assert phrase in run.error_message, run.error_message
    return run.error_message


def test_an_upstream_held_by_another_replica_opens_the_gate_though_this_store_never_saw_it(replicas):
    a, b = replicas("a"), replicas("b")
    split(a, b)

    assert a.dev.run().outcome.result.value == "applied"
    done = b.prod.run()

    assert b.dev.state().last_applied_commit is None, "b's own store knows nothing of dev"
    assert done.outcome.result.value == "applied" and done.outcome.commit == A


def test_a_stale_ready_record_in_this_store_does_not_promote_once_the_holder_published_a_failure(replicas, kubeconfig, namespace):
    b_earlier = replicas("b")
    rounds(b_earlier, count=1)  # alone: b holds both, and records dev applying A
    assert b_earlier.dev.run().outcome.result.value == "applied"
    b_earlier.leases.close()  # b stops; a takes dev from here on
    a, b = replicas("a"), replicas("b")
    split(a, b)
    a.dev.workspace.head = B
    a.dev.workspace.script("up", Temporary(PROGRAM_ERROR, "the program failed; token hunter2-secret"))
    assert a.dev.run().outcome.reason == PROGRAM_ERROR

    stale = promotion.position_of(b.dev.state())
    assert promotion.pending(b.prod.spec, A, stale, lambda commit, descendant: False, time.time()) is None, \
        "b's own record of dev would promote A: the trust bug"
    waits(b.prod.run(), "waiting for dev: its last run failed (ProgramError)")
    assert b.prod.workspace.names() == ["find_head"], "no checkout, no engine"
    published = annotation(kubeconfig, namespace, "dev")
    assert "hunter2" not in published and "the program failed" not in published, "only reason codes are published"
    assert json.loads(published)["replica"] == "a"

    a.dev.workspace.head = A  # the failing commit reverted: dev in sync again
    assert a.dev.run().outcome.result.value == "applied"
    assert b.prod.run().outcome.result.value == "applied"


def test_a_holder_that_stops_renewing_mid_run_is_not_trusted_nor_is_its_successor_before_it_publishes(replicas):
    a, b = replicas("a"), replicas("b")
    split(a, b)
    a.dev.run()
    a.dev.workspace.head = B
    recorder = a.dev.reconciler.recorder
    state = recorder.state()
    state.reconciling = True  # a run of B started and published; then a stops (no end recorded, no renewals)
    recorder.publish(state)
    stopped = time.monotonic()

    assert b.prod.run().outcome.result.value == "applied", "a's Lease is fresh: its position holds, mid-run"
    b.prod.workspace.head = B
    time.sleep(max(stopped + DURATION + 0.5 - time.monotonic(), 0.0))  # no rounds: nobody takes dev meanwhile
    waits(b.prod.run(), "waiting for dev: its holder a stopped renewing its Lease")

    c = replicas("c")  # takes dev once a's Lease has lapsed in its own eyes too
    deadline = time.monotonic() + 3 * DURATION
    while c.leases.held() != ["dev"] and time.monotonic() < deadline:
        rounds(c, b, count=1)
        time.sleep(0.5)
    assert (c.leases.held(), b.leases.held()) == (["dev"], ["prod"])
    waits(b.prod.run(), "waiting for dev: its holder c has not published its position yet")
    c.dev.workspace.head = B
    assert c.dev.run().outcome.result.value == "applied"
    assert b.prod.run().outcome.result.value == "applied"


def test_a_replica_that_lost_the_lease_cannot_overwrite_the_new_holders_position(replicas, kubeconfig, namespace):
    a, b = replicas("a"), replicas("b")
    split(a, b)
    a.dev.run()
    c = replicas("c")
    rounds(b, c, count=1)
    deadline = time.monotonic() + DURATION + 0.5
    while time.monotonic() <= deadline:  # a stops renewing; c takes dev once a's Lease lapsed
        rounds(b, c, count=1)
        time.sleep(0.5)
    rounds(b, c, count=2)
    c.dev.run()
    by_c = annotation(kubeconfig, namespace, "dev")

    state = a.dev.state()
    state.last_result, state.reason = "failed", PROGRAM_ERROR
    a.dev.reconciler.recorder.publish(state)  # a, not knowing it lost the Lease, publishes a position

    assert annotation(kubeconfig, namespace, "dev") == by_c and json.loads(by_c)["replica"] == "c"
    assert a.leases.held() == [], "the write carried a's old resourceVersion: 409, and a knows it lost the Lease"


def test_renewals_and_the_release_carry_the_position_and_a_released_one_is_trusted(replicas, kubeconfig, namespace):
    a, b = replicas("a"), replicas("b")
    split(a, b)
    a.dev.run()
    published = annotation(kubeconfig, namespace, "dev")
    b.leases.forward(["dev"], "webhook")  # someone else's merge patch of the Lease in between
    rounds(a, b)

    assert annotation(kubeconfig, namespace, "dev") == published
    a.leases.close()  # a stops cleanly: dev is released with its final position
    assert annotation(kubeconfig, namespace, "dev") == published
    assert b.prod.run().outcome.result.value == "applied"


def test_no_lease_and_an_unreadable_position_both_mean_not_yet(replicas, kubeconfig, namespace):
    b = replicas("b")
    waits(b.prod.run(), "waiting for dev: no replica has held it yet (it has no Lease)")

    a = replicas("a")
    split(a, b)
    waits(b.prod.run(), "waiting for dev: its holder a has not published its position yet")
    a.dev.run()
    api = client.CoordinationV1Api(config.new_client_from_config(config_file=str(kubeconfig)))
    api.patch_namespaced_lease(lease_name(STACK, "dev"), namespace, {"metadata": {"annotations": {POSITION_ANNOTATION: "{not json"}}})
    waits(b.prod.run(), "the position on its Lease", "is unreadable")


def test_a_position_published_by_another_replica_triggers_the_round_callback(kubeconfig, namespace, replicas):
    seen: list[list[str]] = []
    a = replicas("a")
    settings = CoordinationSettings(kubeconfig, namespace, DURATION, 1.0, "b")
    b = StackLeases(settings, STACKS, LeaseApi(settings, "reconciler.yaml"), on_published=seen.append)
    for _ in range(3):
        a.leases.sync()
        b.sync()
    seen.clear()

    a.dev.run()
    b.sync()
    b.sync()

    assert seen == [["dev"]], "once, for the stack whose position changed"
