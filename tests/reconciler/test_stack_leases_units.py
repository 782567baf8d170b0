"""The Lease rules for stacks that come and go (units), against the local Kubernetes API server: a stack tracked
later is shared like the others, a retired one's Lease is never made again, its holder's drop deletes the Lease
and every other replica drops it once the Lease is gone. Rounds are run by hand, as in test_stack_leases.py."""

from __future__ import annotations

import pytest

from reconciler.coordination.stack_leases import StackLeases
from testsupport.lease_namespaces import holders, rounds, stack_leases

pytestmark = pytest.mark.e2e


@pytest.fixture
def replica(kubeconfig, namespace):
    def make(replica_id: str, stacks: list[str], **callbacks) -> StackLeases:
        return stack_leases(kubeconfig, namespace, replica_id, stacks, 3.0, **callbacks)
    return make


def test_units_tracked_later_are_spread_and_a_removed_one_is_dropped_everywhere_with_its_lease(replica, kubeconfig, namespace):
    dropped: dict[str, list[str]] = {"a": [], "b": []}
    a = replica("a", ["parent"], on_dropped=dropped["a"].extend)
    b = replica("b", ["parent"], on_dropped=dropped["b"].extend)
    rounds(a, b)
    units = ["parent.one", "parent.two", "parent.three"]
    for each in (a, b):
        each.track(["parent", *units], [])
    rounds(a, b)

    assert sorted(len(each.held()) for each in (a, b)) == [2, 2], "four stacks, two each"
    assert set(holders(kubeconfig, namespace)) == {"parent", *units}

    gone = "parent.three"
    holder, other = (a, b) if gone in a.held() else (b, a)
    for each in (a, b):
        each.track(["parent", *units], [gone])
    rounds(a, b)
    assert gone in holder.held() and gone in other.stacks, "retired: kept by its holder until its removal ends"

    holder.drop(gone)
    assert gone not in holders(kubeconfig, namespace), "the holder's drop deletes the Lease"
    assert gone not in holder.stacks and dropped[holder.replica_id] == []
    rounds(a, b)

    assert gone not in other.stacks and dropped[other.replica_id] == [gone], "the other replica drops it at its next round"
    assert set(holders(kubeconfig, namespace)) == {"parent", "parent.one", "parent.two"}, "and never makes its Lease again"


def test_a_retired_stack_without_a_lease_is_never_claimed_and_is_dropped(replica, kubeconfig, namespace):
    dropped: list[str] = []
    a = replica("a", ["parent"], on_dropped=dropped.extend)
    a.track(["parent", "parent.late"], ["parent.late"])  # planned and removed before any replica claimed it
    rounds(a)

    assert a.held() == ["parent"] and dropped == ["parent.late"] and a.stacks == ["parent"]
    assert set(holders(kubeconfig, namespace)) == {"parent"}


def test_a_unit_planned_again_after_its_retirement_is_shared_again(replica, kubeconfig, namespace):
    a = replica("a", ["parent"])
    rounds(a)
    a.track(["parent", "parent.back"], ["parent.back"])
    a.track(["parent", "parent.back"], [])  # its folder came back before any replica claimed it
    rounds(a)

    assert a.held() == ["parent", "parent.back"] and set(holders(kubeconfig, namespace)) == {"parent", "parent.back"}
