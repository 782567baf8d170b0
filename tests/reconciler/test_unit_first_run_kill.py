"""A unit stack's first update runs without checkpoints; SIGKILLed mid-way, the next pass still ends exact.

This project's real program on the local cluster, in units: `platform` (the Namespace) and `apps` (ConfigMaps and
a gate ConfigMap that is never ready, so the update holds there with its other creates done). The unit's engine is
SIGKILLed while it holds: its state holds no object (nothing was saved), the cluster holds the created ones. A newer
commit drops the gate and half of the others; the next pass recovers (sweeps what neither the state nor Git holds),
then applies: cluster and state hold exactly what Git holds, nothing pending or locked.
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

from manifest_loader.stamping import STACK_LABEL, stack_label_value
from testsupport.process_tree import pulumi_update_below, session_members
from testsupport.reconciler_cluster import PASSPHRASE_ENV, REGISTRY_PASSWORD_ENV, ClusterRepo, manifests, units_stack_file
from testsupport.reconciler_testing import PROJECT_DIR, PYTHON, json_lines, run_cli, stack_locks, wait_for, write_config

pytestmark = pytest.mark.e2e
NAME = "unit-kill-e2e"
UNIT = f"{NAME}.apps"
SELECTOR = f"{STACK_LABEL}={stack_label_value('pulumi-gitops', 'local.apps')}"
GATE = yaml.safe_dump({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {
    "name": "gate", "annotations": {"pulumi.com/waitFor": "jsonpath={.metadata.labels.released}=yes",
                                    "pulumi.com/timeoutSeconds": "900"}}})


def config_map(name: str) -> str:
    return yaml.safe_dump({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": {"n": name}})


class Units:
    def __init__(self, root: Path, repo: ClusterRepo, env: dict[str, str]) -> None:
        self.repo, self.env = repo, env
        self.config = write_config(root / "reconciler.yaml", [repo.stack_entry(units_parallel=1)],
                                   state_dir=str(root / "reconciler-state"))

    def start_once(self) -> subprocess.Popen:
        return subprocess.Popen([PYTHON, "-m", "reconciler", "once", "--config", str(self.config), "--json"], cwd=PROJECT_DIR,
                                env=self.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)

    def once(self) -> tuple[int, dict[str, dict[str, Any]], str]:
        done = run_cli("once", "--config", str(self.config), "--json", env=self.env, timeout=1200)
        return done.returncode, {line["stack"]: line for line in json_lines(done.stdout)}, done.stderr

    def labelled(self) -> set[str]:
        found = self.repo.kubectl("get", "configmaps", "--selector", SELECTOR, "--output", "json")
        assert found.returncode == 0, found.stderr
        return {item["metadata"]["name"] for item in json.loads(found.stdout)["items"]}

    def in_git(self) -> set[str]:
        return {path.stem for path in (self.repo.remote.clone / "manifests" / "apps").glob("*.yaml")}

    def in_state(self) -> tuple[set[str], dict[str, Any]]:
        env = {**self.env, "PULUMI_BACKEND_URL": f"file://{self.repo.backend}", "PULUMI_CONFIG_PASSPHRASE": self.env[PASSPHRASE_ENV]}
        done = subprocess.run(["pulumi", "--non-interactive", "stack", "export", "--stack", "local.apps"],
                              cwd=self.repo.remote.clone, env=env, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr
        deployment = json.loads(done.stdout)["deployment"]
        names = {r["outputs"]["metadata"]["name"] for r in deployment.get("resources") or []
                 if r["type"] == "kubernetes:core/v1:ConfigMap"}
        return names, deployment


@pytest.fixture(scope="module")
def units(local_env, engine_env, tmp_path_factory):
    root = tmp_path_factory.mktemp("unit-kill")
    repo = ClusterRepo(root, NAME, local_env)
    files: dict[str, Optional[str]] = dict.fromkeys(manifests(NAME), None)
    files["manifests/platform/namespace.yaml"] = manifests(NAME)["manifests/namespace.yaml"]
    files.update({f"manifests/apps/batch-{n}.yaml": config_map(f"batch-{n}") for n in range(10)})
    files["manifests/apps/gate.yaml"] = GATE
    repo.remote.commit("two units, the gate among the apps", {**files, "Pulumi.local.yaml": units_stack_file(NAME, local_env)})
    env = {**engine_env, **local_env, PASSPHRASE_ENV: "e2e-passphrase", REGISTRY_PASSWORD_ENV: "e2e-registry-password"}
    yield Units(root, repo, env)
    repo.delete_namespace()


def test_a_units_first_update_killed_mid_way_then_a_commit_dropping_some_ends_exact(units):
    once = units.start_once()
    wait_for(lambda: units.repo.get("configmap", "gate") and all(units.repo.get("configmap", f"batch-{n}") for n in range(10)),
             900, "the unit's creates")
    engine = pulumi_update_below(once.pid)
    assert engine, "the apps unit's update is running"
    os.kill(engine, signal.SIGKILL)
    out, err = once.communicate(timeout=300)

    lines = {line["stack"]: line for line in json_lines(out)}
    assert (lines[UNIT]["result"], lines[UNIT]["reason"]) == ("failed", "Interrupted"), err[-3000:]
    assert "checkpoints off for this update (a unit stack: only Kubernetes objects)" in err
    assert units.in_state()[0] == set(), "without checkpoints the killed first run saved no object"
    assert units.labelled() >= {"gate", *(f"batch-{n}" for n in range(10))}, "what it created is in the cluster"
    assert wait_for(lambda: not session_members(engine), 60, "the killed engine's plugins to be gone") is True

    units.repo.remote.commit("the gate and half of the batch dropped", {
        "manifests/apps/gate.yaml": None, **{f"manifests/apps/batch-{n}.yaml": None for n in range(5, 10)}})
    code, lines, log = units.once()

    assert code == 0 and lines[UNIT]["result"] == "applied", log[-3000:]
    assert f"deleted ConfigMap {NAME}/gate" in log
    assert all(f"deleted ConfigMap {NAME}/batch-{n}" in log for n in range(5, 10))
    names, deployment = units.in_state()
    assert units.labelled() == units.in_git() == names == {f"batch-{n}" for n in range(5)}
    assert not deployment.get("pending_operations") and not stack_locks(units.repo.backend)
