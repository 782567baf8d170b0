"""The claim, spread, renew and takeover rules of the stack Leases, against the local Kubernetes API server.

Each replica is a StackLeases of its own (its own API client) whose rounds the test runs by hand, so a
"dead" replica is one that stops renewing. Nothing of the API is mocked.
"""

from __future__ import annotations

import time

import pytest
from kubernetes import client, config

from reconciler.coordination.lease_api import STACK, Conflict, LeaseApi
from reconciler.coordination.leased_workspace import LeasedWorkspace
from reconciler.coordination.stack_leases import StackLeases
from reconciler.errors import LEASE_LOST, Waiting
from reconciler.settings import ConfigError, CoordinationSettings
from testsupport.lease_namespaces import holders, rounds, stack_leases

pytestmark = pytest.mark.e2e
STACKS = [f"stack-{number:02d}" for number in range(1, 13)]
DURATION = 3.0


@pytest.fixture
def replica(kubeconfig, namespace):
    def make(replica_id: str, stacks: list[str] = STACKS, **callbacks) -> StackLeases:
        return stack_leases(kubeconfig, namespace, replica_id, stacks, DURATION, **callbacks)
    return make


def test_three_replicas_split_twelve_stacks_four_each_and_the_leases_name_their_holders(replica, kubeconfig, namespace):
    a, b, c = replica("a"), replica("b"), replica("c")
    rounds(a, b, c)

    held = {each.replica_id: each.held() for each in (a, b, c)}
    assert sorted(len(names) for names in held.values()) == [4, 4, 4]
    assert sorted(sum(held.values(), [])) == STACKS  # each stack held once
    on_server = holders(kubeconfig, namespace)
    assert {name: holder for name, (holder, _) in on_server.items()} == {
        name: owner for owner, names in held.items() for name in names}


def test_a_held_lease_is_renewed_and_never_taken_while_its_holder_renews(replica):
    a, b = replica("a", ["only"]), replica("b", ["only"])
    a.sync()
    first = a.describe()
    deadline = time.monotonic() + DURATION * 2
    while time.monotonic() < deadline:  # twice the duration, a renewing every second
        a.sync()
        b.sync()
        time.sleep(1.0)

    assert first["held"] == ["only"] and a.held() == ["only"] and b.held() == []
    assert b.describe()["holders"] == {"only": "a"}


def test_a_dead_replicas_stacks_are_taken_only_after_its_lease_runs_out(replica, kubeconfig, namespace):
    a, b, c = replica("a"), replica("b"), replica("c")
    rounds(a, b, c)
    orphans = set(a.held())
    died = time.monotonic()  # a stops renewing

    rounds(b, c, count=1)
    early = set(b.held()) | set(c.held())
    while time.monotonic() - died <= DURATION + 0.5:
        rounds(b, c, count=1)
        time.sleep(0.5)
    rounds(b, c, count=2)

    assert not orphans & early, "a stack was taken before its lease ran out"
    assert sorted(len(each.held()) for each in (b, c)) == [6, 6]
    on_server = holders(kubeconfig, namespace)
    assert {on_server[name][0] for name in orphans} <= {"b", "c"}
    assert all(on_server[name][1] == 1 for name in orphans), "a takeover counts one transition"


def test_two_writes_from_the_same_read_cannot_both_win(kubeconfig, namespace):
    settings = CoordinationSettings(kubeconfig, namespace, DURATION, 1.0, "x")
    first, second = LeaseApi(settings, "r.yaml"), LeaseApi(settings, "r.yaml")
    created = first.create(STACK, "contested", "a", DURATION)

    first.write(created, "b", DURATION)
    with pytest.raises(Conflict):
        second.write(created, "c", DURATION)
    with pytest.raises(Conflict):
        second.create(STACK, "contested", "c", DURATION)
    assert holders(kubeconfig, namespace)["contested"][0] == "b"


def test_an_edit_by_someone_else_is_not_a_lost_lease_and_survives_the_renewal(replica, kubeconfig, namespace):
    a = replica("a", ["only"])
    a.sync()
    coordination = client.CoordinationV1Api(config.new_client_from_config(config_file=str(kubeconfig)))
    [lease] = coordination.list_namespaced_lease(namespace, label_selector="reconciler.gitops/lease=stack").items
    coordination.patch_namespaced_lease(lease.metadata.name, namespace, {"metadata": {"annotations": {"team": "platform"}}})

    renewed = a.confirm("only")
    after = coordination.read_namespaced_lease(lease.metadata.name, namespace)

    assert renewed and a.held() == ["only"]
    assert after.spec.holder_identity == "a" and after.metadata.annotations["team"] == "platform"
    assert after.spec.renew_time > lease.spec.renew_time


def test_a_webhook_at_a_replica_that_does_not_hold_the_stack_reaches_the_holder_once(replica):
    forwarded: list[list[str]] = []
    a = replica("a", ["only", "other"], on_forwarded=forwarded.append)
    b = replica("b", ["only", "other"])
    rounds(a, b)
    [held_by_a], [held_by_b] = a.held(), b.held()

    sent = b.forward([held_by_a, held_by_b], "webhook")
    rounds(a, count=2)

    assert sent == [held_by_a]  # b runs its own stack itself
    assert forwarded == [[held_by_a]] and a.held() == [held_by_a]


def test_a_joining_replica_gets_its_share_and_a_stack_in_a_pass_is_released_only_after_it(replica):
    a, b = replica("a"), replica("b")
    rounds(a, b)
    assert sorted(len(each.held()) for each in (a, b)) == [6, 6]
    in_pass = a.held()
    assert all(a.begin(name) for name in in_pass)  # every stack of a is in a pass

    c = replica("c")
    rounds(a, b, c)
    during = (a.held(), len(b.held()), len(c.held()))
    for name in in_pass:
        a.end(name)
    rounds(a, b, c)

    assert during == (in_pass, 4, 2), "a released a stack during its pass"
    assert sorted(len(each.held()) for each in (a, b, c)) == [4, 4, 4]


def test_a_lost_lease_stops_the_next_write(replica, kubeconfig, namespace):
    a = replica("a", ["only"])
    a.sync()
    assert a.begin("only")
    writes: list[str] = []

    class Engine:
        def up(self, commit: str, refresh: bool) -> str:
            writes.append(commit)
            return "applied"

    workspace = LeasedWorkspace(Engine(), lambda: a.confirm("only"), "a", retry_in=1.0)  # type: ignore[arg-type]
    assert workspace.up("c1", False) == "applied"
    # Another replica takes the Lease (as if a's renewals had stopped reaching the server).
    settings = CoordinationSettings(kubeconfig, namespace, DURATION, 1.0, "b")
    api = LeaseApi(settings, "r.yaml")
    [lease] = api.list(STACK)
    api.write(lease, "b", DURATION)

    with pytest.raises(Waiting) as lost:
        workspace.up("c2", False)
    assert writes == ["c1"] and lost.value.reason == LEASE_LOST and a.held() == []


def test_a_clean_stop_hands_the_stacks_over_without_waiting_for_expiry(replica):
    a, b = replica("a"), replica("b")
    rounds(a, b)
    a.close()
    rounds(b, count=2)
    assert len(b.held()) == 12 and b.describe()["live_replicas"] == ["b"]


def test_an_unreadable_kubeconfig_is_a_config_error_naming_the_key(tmp_path, namespace):
    settings = CoordinationSettings(tmp_path / "missing", namespace, DURATION, 1.0, "a")
    with pytest.raises(ConfigError) as error:
        LeaseApi(settings, "reconciler.yaml")
    assert "coordination.kubeconfig" in str(error.value) and "missing" in str(error.value)
