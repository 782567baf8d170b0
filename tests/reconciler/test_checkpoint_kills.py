"""Updates without checkpoints, killed with SIGKILL on the real engine and the real local cluster.

A stack of Kubernetes objects (this project's program on the local target) updates without checkpoints from its
second run on. Each test commits an update that creates, updates and deletes objects, SIGKILLs the engine (or the
whole reconciler with it) at one point of it, and checks that the killed run wrote nothing to the state; the next
pass must leave the cluster holding exactly what Git holds, the state holding exactly that too, no pending
operation, no lock and no process of the killed run. The tests run in order on one stack.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
from pathlib import Path
from typing import Any, Optional

import pytest
import yaml

from manifest_loader.stamping import STACK_LABEL
from testsupport.process_tree import kill_tree, pulumi_update_below, session_members
from testsupport.reconciler_cluster import PASSPHRASE_ENV, REGISTRY_PASSWORD_ENV, ClusterRepo
from testsupport.reconciler_testing import PROJECT_DIR, PYTHON, json_lines, run_cli, stack_locks, wait_for, write_config

pytestmark = pytest.mark.e2e
NAME = "ckpt-e2e"
SELECTOR = f"{STACK_LABEL}=pulumi-gitops.local"
HOLD = "pulumi-gitops.dev/test-hold"


def config_map(name: str, revision: str = "r0", annotations: Optional[dict] = None, finalizers: Optional[list] = None) -> str:
    metadata: dict[str, Any] = {"name": name}
    if annotations:
        metadata["annotations"] = annotations
    if finalizers:
        metadata["finalizers"] = finalizers
    return yaml.safe_dump({"apiVersion": "v1", "kind": "ConfigMap", "metadata": metadata, "data": {"REVISION": revision}})


def batch(names: range, revision: str = "r0") -> dict[str, Optional[str]]:
    return {f"manifests/batch-{n}.yaml": config_map(f"batch-{n}", revision) for n in names}


# Created last and never ready until a label it waits for is set: an update holds here, its other steps done.
GATE = config_map("gate", annotations={"pulumi.com/waitFor": "jsonpath={.metadata.labels.released}=yes",
                                       "pulumi.com/timeoutSeconds": "900"})
# Its deletion waits on a finalizer nobody removes until the test does: an update holds in its delete steps.
HELD = config_map("held", finalizers=[HOLD])


class Stack:
    def __init__(self, root: Path, repo: ClusterRepo, env: dict[str, str]) -> None:
        self.root, self.repo, self.env = root, repo, env
        self.config = write_config(root / "reconciler.yaml", [repo.stack_entry()], state_dir=str(root / "state"))
        self.state_file = repo.backend / ".pulumi" / "stacks" / "pulumi-gitops" / "local.json"

    def once(self) -> tuple[int, dict[str, Any], str]:
        done = run_cli("once", "--config", str(self.config), "--json", env=self.env, timeout=900)
        return done.returncode, json_lines(done.stdout)[0], done.stderr

    def start_once(self) -> subprocess.Popen:
        return subprocess.Popen([PYTHON, "-m", "reconciler", "once", "--config", str(self.config), "--json"], cwd=PROJECT_DIR,
                                env=self.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)

    def kubectl(self, *args: str) -> subprocess.CompletedProcess:
        return self.repo.kubectl(*args)

    def live(self, name: str) -> Optional[dict[str, Any]]:
        return self.repo.get("configmap", name)

    def labelled(self) -> set[tuple[str, str]]:
        found = self.kubectl("get", "configmaps,deployments", "--selector", SELECTOR, "--output", "json")
        assert found.returncode == 0, found.stderr
        return {(item["kind"], item["metadata"]["name"]) for item in json.loads(found.stdout)["items"]}

    def unlabelled_config_maps(self) -> set[str]:
        found = self.kubectl("get", "configmaps", "--output", "json")
        names = {item["metadata"]["name"] for item in json.loads(found.stdout)["items"]}
        return names - {name for kind, name in self.labelled() if kind == "ConfigMap"} - {"kube-root-ca.crt"}

    def in_git(self) -> set[tuple[str, str]]:
        declared = set()
        for path in (self.repo.remote.clone / "manifests").glob("*.yaml"):
            body = yaml.safe_load(path.read_text())
            if body["kind"] in ("ConfigMap", "Deployment"):
                declared.add((body["kind"], body["metadata"]["name"]))
        return declared

    def exported(self) -> dict[str, Any]:
        env = {**self.env, "PULUMI_BACKEND_URL": f"file://{self.repo.backend}", "PULUMI_CONFIG_PASSPHRASE": self.env[PASSPHRASE_ENV]}
        done = subprocess.run(["pulumi", "--non-interactive", "stack", "export", "--stack", "local"], cwd=self.repo.remote.clone,
                              env=env, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)["deployment"]

    def assert_exactly_git(self) -> None:
        """Cluster, state and Git hold the same objects; nothing pending, locked or left over."""
        expected = self.in_git()
        deployment = self.exported()
        in_state = {(r["outputs"]["kind"], r["outputs"]["metadata"]["name"]) for r in deployment["resources"]
                    if r["type"] in ("kubernetes:core/v1:ConfigMap", "kubernetes:apps/v1:Deployment")}
        assert self.labelled() == expected, "the cluster holds exactly what Git holds"
        assert in_state == expected, "the state holds exactly what Git holds"
        assert not self.unlabelled_config_maps()
        assert not deployment.get("pending_operations")
        assert not stack_locks(self.repo.backend)

    def engine(self, once: subprocess.Popen) -> int:
        """The `pulumi up` the pass runs (its own session, as the reconciler starts it)."""
        return pulumi_update_below(once.pid)


@pytest.fixture(scope="module")
def stack(local_env, engine_env, tmp_path_factory):
    root = tmp_path_factory.mktemp("checkpoints")
    repo = ClusterRepo(root, NAME, local_env)
    env = {**engine_env, **local_env, PASSPHRASE_ENV: "e2e-passphrase", REGISTRY_PASSWORD_ENV: "e2e-registry-password"}
    yield Stack(root, repo, env)
    repo.kubectl("patch", "configmap", "held", "--type=json", "--patch", '[{"op": "remove", "path": "/metadata/finalizers"}]')
    repo.delete_namespace()


def test_the_first_run_keeps_checkpoints_and_the_next_one_of_a_kubernetes_only_state_skips_them(stack):
    code, first, log = stack.once()
    assert (code, first["result"]) == (0, "applied"), log[-3000:]
    assert "checkpoints off" not in log

    stack.repo.remote.commit("ten config maps", batch(range(10)))
    code, second, log = stack.once()

    assert (code, second["result"]) == (0, "applied"), log[-3000:]
    assert "checkpoints off for this update (the last state holds only Kubernetes objects)" in log
    stack.assert_exactly_git()


def test_the_engine_killed_while_it_creates_and_a_newer_commit_dropping_some_of_them(stack):
    before = stack.state_file.read_bytes()
    stack.repo.remote.commit("creates, an update and a delete", {
        **batch(range(10, 20)), "manifests/gate.yaml": GATE, "manifests/batch-0.yaml": config_map("batch-0", "r1"),
        "manifests/batch-9.yaml": None,
    })
    once = stack.start_once()
    wait_for(lambda: stack.live("gate") and all(stack.live(f"batch-{n}") for n in range(10, 20)), 600, "the creates")
    engine = stack.engine(once)
    os.kill(engine, signal.SIGKILL)
    out, err = once.communicate(timeout=300)

    [killed] = json_lines(out)
    assert (once.returncode, killed["result"], killed["reason"]) == (1, "failed", "Interrupted"), err[-3000:]
    assert stack.state_file.read_bytes() == before, "without checkpoints the killed run wrote nothing to the state"
    assert wait_for(lambda: not session_members(engine), 60, "the killed engine's plugins to be gone") is True

    stack.repo.remote.commit("half of the new ones and the gate dropped", {
        **{f"manifests/batch-{n}.yaml": None for n in range(15, 20)}, "manifests/gate.yaml": None,
    })
    code, line, log = stack.once()

    assert (code, line["result"]) == (0, "applied"), log[-3000:]
    assert f"deleted ConfigMap {NAME}/gate" in log
    assert all(f"deleted ConfigMap {NAME}/batch-{n}" in log for n in range(15, 20))
    stack.assert_exactly_git()
    assert stack.live("batch-0")["data"]["REVISION"] == "r1" and stack.live("batch-9") is None


def test_the_whole_reconciler_killed_while_the_engine_deletes_and_the_same_head_applied_again(stack):
    stack.repo.remote.commit("an object whose deletion will hang", {"manifests/held.yaml": HELD})
    assert stack.once()[0] == 0
    before = stack.state_file.read_bytes()
    stack.repo.remote.commit("updates, creates and the held object's delete", {
        **batch(range(1, 5), "r2"), **batch(range(20, 25)), "manifests/held.yaml": None,
    })
    once = stack.start_once()
    wait_for(lambda: (stack.live("held") or {}).get("metadata", {}).get("deletionTimestamp"), 600, "the delete step")
    engine = stack.engine(once)
    kill_tree(once.pid)  # the node went down: the reconciler, its engine and the plugins at once
    once.communicate(timeout=60)

    assert stack.state_file.read_bytes() == before, "without checkpoints the killed run wrote nothing to the state"
    assert wait_for(lambda: not session_members(engine), 60, "the killed engine's plugins to be gone") is True
    released = stack.kubectl("patch", "configmap", "held", "--type=json", "--patch",
                             '[{"op": "remove", "path": "/metadata/finalizers"}]')
    assert released.returncode == 0, released.stderr
    code, line, log = stack.once()

    assert (code, line["result"]) == (0, "applied"), log[-3000:]
    assert "the state refreshed (the run may have had no checkpoints)" in log
    assert "0 orphaned object(s) deleted, 5 left for the next update to adopt" in log
    stack.assert_exactly_git()
    assert {n: stack.live(f"batch-{n}")["data"]["REVISION"] for n in range(1, 5)} == dict.fromkeys(range(1, 5), "r2")


def test_the_whole_reconciler_killed_as_the_update_starts_and_a_force_push_back(stack):
    older = stack.repo.remote.head()
    before = stack.state_file.read_bytes()
    stack.repo.remote.commit("a batch of new ones, soon taken back", batch(range(30, 40)))
    once = stack.start_once()
    engine = wait_for(lambda: stack_locks(stack.repo.backend) and stack.engine(once), 600, "the update to take the lock")
    wait_for(lambda: stack.live("batch-30"), 600, "the first create")
    kill_tree(once.pid)  # the node went down: the reconciler, its engine and the plugins at once
    once.communicate(timeout=60)

    assert stack.state_file.read_bytes() == before
    assert wait_for(lambda: not session_members(engine), 60, "the killed engine's plugins to be gone") is True
    stack.repo.remote.reset_and_force_push(older)
    code, line, log = stack.once()

    assert (code, line["result"], line["commit"]) == (0, "applied", older), log[-3000:]
    assert f"deleted ConfigMap {NAME}/batch-30" in log
    stack.assert_exactly_git()
