"""Units under `coordination:`: two real replica processes share a parent's unit stacks through Leases.

Each replica plans the parent's units at the commit the parent's holder published on its Lease, so both know the
same unit stacks and spread them like any stack. What is read: the Leases on the local API server, each
replica's /status and status database, and `pulumi stack history` on the shared file backend.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

import pytest

from reconciler.status.store import StatusStore
from testsupport.reconciler_testing import TINY_PROJECT, tiny_stack, tiny_stack_history
from testsupport.replica_pair import ReplicaPair, replicas_in_a_lease_namespace
from testsupport.tiny_units import PROGRAM, STACK_FILE, objects

pytestmark = pytest.mark.e2e
TIMEOUT = 300.0
REPLICAS = ("r1", "r2")


class Pair(ReplicaPair):
    def __init__(self, root: Path, remote, env: dict[str, str], kubeconfig: Path, namespace: str) -> None:
        super().__init__(root, remote, env, kubeconfig, namespace)
        self.entries = [tiny_stack(remote, self.backend, deletion_guard=0)]

    def listed(self, replica: str) -> set[str]:
        status, body = self.services[replica].get("/status")
        assert status == 200, body
        document = json.loads(body)
        return {entry["stack"] for entry in document["stacks"]} | set(document["coordination"]["holders"])

    def wait(self, predicate, what: str):
        return self.services["r1"].wait_until(lambda: all(s.process.poll() is None for s in self.services.values())
                                              and predicate(), TIMEOUT, what + "\n" + self.services["r2"].log()[-3000:])

    def applied_runs(self) -> Counter:
        """(stack, commit) -> how many applied runs the two status databases hold."""
        found: Counter = Counter()
        for replica in REPLICAS:
            store = StatusStore(self.root / replica / "state" / "status.sqlite", read_only=True)
            try:
                found.update((run["stack"], run["commit"]) for run in store.runs(limit=100_000) if run["result"] == "applied")
            finally:
                store.close()
        return found

    def history(self, stack: str) -> list[dict]:
        return tiny_stack_history(self.remote.clone, self.backend, self.env, stack)


@pytest.fixture
def pair(tmp_path, remote, engine_env, local_env):
    with replicas_in_a_lease_namespace(Pair, tmp_path, remote, engine_env, local_env) as pair:
        yield pair


def test_two_replicas_share_the_units_apply_each_once_add_a_new_one_and_remove_one_through_the_guard(pair):
    remote = pair.remote
    first = remote.commit("a project in units", {
        **TINY_PROJECT, "__main__.py": PROGRAM, "Pulumi.dev.yaml": STACK_FILE,
        **objects("platform", "namespace"), **objects("web", "page", "cart"),
    })
    for replica in REPLICAS:
        pair.start(replica)
    pair.wait(lambda: all(pair.applied(name, first) for name in ("tiny", "tiny.platform", "tiny.web")),
              "the parent and both units applied")

    added = remote.commit("a new unit", objects("jobs", "nightly"))
    pair.wait(lambda: pair.applied("tiny.jobs", added), "the unit the commit adds applied")
    leases = pair.holders()
    assert set(leases) == {"tiny", "tiny.platform", "tiny.web", "tiny.jobs"}
    assert sorted(Counter(leases.values()).values()) == [2, 2], f"four stacks spread over two replicas: {leases}"

    gone = remote.commit("the jobs go", {"manifests/jobs": None})
    blocked = pair.wait(lambda: _blocked(pair.entry_of("tiny.jobs"), gone), "the removal judged by the deletion guard")
    assert blocked["error"].startswith(f"unit jobs is no longer in the plan at {gone[:12]}: removing its stack dev.jobs: ")
    allowed = re.search(r"`Allow-Deletes: (\d+)`", blocked["error"])
    assert allowed, blocked["error"]
    jobs_file = pair.backend / ".pulumi" / "stacks" / "tiny" / "dev.jobs.json"
    assert jobs_file.exists(), "blocked: the stack stays"

    remote.commit(f"remove the jobs\n\nAllow-Deletes: {allowed.group(1)}")
    pair.wait(lambda: not jobs_file.exists(), "the removed unit's stack destroyed and out of the backend")
    pair.wait(lambda: "tiny.jobs" not in pair.holders(), "its Lease deleted")
    pair.wait(lambda: all("tiny.jobs" not in pair.listed(replica) for replica in REPLICAS), "every replica to drop it")
    assert set(pair.holders()) == {"tiny", "tiny.platform", "tiny.web"}

    # Read while both run: a replica that stops hands its stacks over, and a stack that moves is applied once more
    # by a holder whose own records of it are older (see "What it does not do").
    runs = pair.applied_runs()
    for unit in ("tiny.platform", "tiny.web"):
        assert runs[(unit, first)] == 1, f"{unit} applied once at the first commit, by one replica: {runs}"
        assert [runs[(unit, commit)] for commit in (added, gone)] == [0, 0], \
            f"{unit}: the later commits change only another unit's manifests: {runs}"
        assert [update["kind"] for update in pair.history(f"dev.{unit.split('.')[1]}")] == ["update"], \
            f"{unit}: one update on the shared backend"
    assert runs[("tiny.jobs", added)] == 1, runs
    assert sum(count for (stack, _), count in runs.items() if stack == "tiny.jobs") == 2, \
        f"tiny.jobs: its apply and its removal, nothing else: {runs}"


def _blocked(entry: dict | None, commit: str) -> dict | None:
    if entry is None or entry["reason"] != "DeletionGuard" or entry["observed_commit"] != commit:
        return None
    return entry


def test_a_replica_restarted_after_a_units_removal_never_brings_the_unit_back(pair):
    remote = pair.remote
    first = remote.commit("a project in units", {
        **TINY_PROJECT, "__main__.py": PROGRAM, "Pulumi.dev.yaml": STACK_FILE,
        **objects("platform", "namespace"), **objects("web", "page"), **objects("jobs", "nightly"),
    })
    for replica in REPLICAS:
        pair.start(replica)
    units = ("tiny.platform", "tiny.web", "tiny.jobs")
    pair.wait(lambda: all(pair.applied(name, first) for name in ("tiny", *units)), "the parent and its units applied")
    pair.services["r1"].stop()  # its records keep tiny.jobs
    del pair.services["r1"]

    remote.commit("the jobs go\n\nAllow-Deletes: 5", {"manifests/jobs": None})
    jobs_file = pair.backend / ".pulumi" / "stacks" / "tiny" / "dev.jobs.json"
    pair.services["r2"].wait_until(lambda: not jobs_file.exists() and "tiny.jobs" not in pair.holders(), TIMEOUT,
                                   "r2 to remove the unit alone")
    pair.start("r1")
    pair.wait(lambda: "tiny.jobs" not in pair.listed("r1") and sorted(Counter(pair.holders().values()).values()) == [1, 2],
              "the restarted replica to plan, drop the unit and take its share of the rest")

    assert set(pair.holders()) == {"tiny", "tiny.platform", "tiny.web"}, "the removed unit's Lease never made again"
    assert not jobs_file.exists()
    restarted = pair.services["r1"].log().rsplit("keeping", 1)[1]
    assert "[tiny.jobs@" not in restarted, "the restarted replica never ran a pass of it"
    assert "unit tiny.jobs removed by another replica" in restarted, restarted[-3000:]
