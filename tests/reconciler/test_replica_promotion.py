"""The promotion gate across two replica processes: prod, held by one replica, reads dev's position from what dev's
holder (the other replica) published on dev's Lease, not from its own status store, whose record of dev is stale.

r1 starts alone and runs both stacks (dev on main, prod on release, promoting from dev); when r2 joins, r1 hands
dev over (r1 reaches for prod first: rendezvous hashing) and keeps its own record of dev: applied, Ready. Then dev
fails on r2, and release moves to a commit that record says dev applied: prod must wait, naming dev's failure.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from testsupport.reconciler_testing import TINY_PROJECT, GitRemote, git, tiny_stack
from testsupport.replica_pair import ReplicaPair, replicas_in_a_lease_namespace

pytestmark = pytest.mark.e2e
TIMEOUT = 240.0


class Pair(ReplicaPair):
    def __init__(self, root: Path, remote: GitRemote, env: dict[str, str], kubeconfig: Path, namespace: str) -> None:
        super().__init__(root, remote, env, kubeconfig, namespace)
        self.entries = [
            tiny_stack(remote, self.backend, name="dev", stack="dev"),
            tiny_stack(remote, self.backend, name="prod", stack="prod", branch="release", promote_from="dev"),
        ]

    def push_release(self, commit: str) -> None:
        git("push", "--quiet", "--force", str(self.remote.bare), f"{commit}:refs/heads/release", cwd=self.remote.clone)


@pytest.fixture
def pair(tmp_path, remote, engine_env, local_env):
    with replicas_in_a_lease_namespace(Pair, tmp_path, remote, engine_env, local_env) as pair:
        yield pair


def test_prod_on_one_replica_waits_for_devs_failure_on_the_other_not_for_its_own_stale_record(pair):
    remote = pair.remote
    first = remote.commit("tiny project", TINY_PROJECT)
    pair.push_release(first)
    r1 = pair.start("r1")
    r1.wait_until(lambda: r1.stack("prod")["last_applied_commit"] == first, TIMEOUT, "r1 to promote the first commit")
    good = remote.commit("one more thing", {"things.txt": "a\nb\nc\nd\n"})
    r1.wait_until(lambda: r1.stack("dev")["last_applied_commit"] == good, TIMEOUT, "r1 to apply dev's second commit")

    r2 = pair.start("r2")
    r2.wait_until(lambda: pair.holders() == {"dev": "r2", "prod": "r1"} and r2.stack("dev")["last_applied_commit"] == good,
                  TIMEOUT, "r2 to take dev over and apply it")
    broken = remote.commit("broken", {"fail.txt": "a broken program\n"})
    r2.wait_until(lambda: r2.stack("dev")["reason"] == "ProgramError" and r2.stack("dev")["observed_commit"] == broken,
                  TIMEOUT, "dev to fail on r2")
    pair.push_release(good)  # a commit r1's own record says dev applied and is Ready at

    stale = r1.stack("dev")
    assert (stale["last_applied_commit"], stale["ready"]) == (good, True), "r1's record of dev: the trust bug's premise"
    waiting = r1.wait_until(lambda: _waiting(r1.stack("prod")), TIMEOUT, "prod to look at the release commit")
    assert waiting["error"].startswith(("waiting for dev: its last run failed (ProgramError)",
                                        "waiting for dev: it is stalled (ProgramError)")), waiting["error"]
    assert waiting["last_applied_commit"] == first and waiting["observed_commit"] == good

    fixed = remote.commit("fixed", {"fail.txt": None})
    r1.wait_until(lambda: r1.stack("prod")["last_applied_commit"] == good, TIMEOUT,
                  "prod to promote the release commit once dev, on r2, is in sync at a commit holding it")
    assert r2.stack("dev")["last_applied_commit"] == fixed
    published = json.loads(_position(pair, "dev"))
    assert published["replica"] == "r2" and published["commit"] == fixed and published["blocked"] == ""


def _waiting(entry: dict) -> dict | None:
    return entry if entry["reason"] == "PromotionPending" and entry["observed_commit"] != entry["last_applied_commit"] else None


def _position(pair: Pair, stack: str) -> str:
    from kubernetes import client, config

    from reconciler.coordination.lease_api import STACK, lease_name
    from reconciler.coordination.positions import POSITION_ANNOTATION

    api = client.CoordinationV1Api(config.new_client_from_config(config_file=str(pair.kubeconfig)))
    return api.read_namespaced_lease(lease_name(STACK, stack), pair.namespace).metadata.annotations[POSITION_ANNOTATION]
