"""Units through the reconciler, with this project's real program, on the real local cluster.

One service repository holds 100 objects in four units (folders): `platform` (the Namespace), `web` (the app),
`settings-a` and `settings-b` (ConfigMaps). `once` runs the parent (registry, image, cluster), then each unit's
stack; after every step the objects on the API server are exactly what Git holds. The steps run in order on one
set of stacks, as the repository's history would unfold.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Optional

import pytest

from testsupport.reconciler_cluster import PASSPHRASE_ENV, REGISTRY_PASSWORD_ENV, ClusterRepo, manifests, units_stack_file
from testsupport.reconciler_testing import json_lines, run_cli, write_config

pytestmark = pytest.mark.e2e
NAME = "units-e2e"
SETTINGS_A, SETTINGS_B = 48, 49  # with the Namespace, the app's ConfigMap and its Deployment: 100 objects
UNITS = ("platform", "settings-a", "settings-b", "web")


def config_map(name: str, value: str) -> str:
    return f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\ndata:\n  value: \"{value}\"\n"


def layout(namespace: str) -> dict[str, Optional[str]]:
    """The service's manifests moved into one folder per unit."""
    flat = manifests(namespace, extra_config_maps=0)
    files: dict[str, Optional[str]] = {path: None for path in flat}
    files["manifests/platform/namespace.yaml"] = flat["manifests/namespace.yaml"]
    files["manifests/web/configmap.yaml"] = flat["manifests/configmap.yaml"]
    files["manifests/web/deployment.yaml"] = flat["manifests/deployment.yaml"]
    files["manifests/extra-0.yaml"] = None
    for index in range(SETTINGS_A):
        files[f"manifests/settings-a/a-{index}.yaml"] = config_map(f"a-{index}", "1")
    for index in range(SETTINGS_B):
        files[f"manifests/settings-b/b-{index}.yaml"] = config_map(f"b-{index}", "1")
    return files


class Scenario:
    def __init__(self, root: Path, repo: ClusterRepo, env: dict[str, str]) -> None:
        self.root = root
        self.repo = repo
        self.env = env

    def config(self) -> Path:
        return write_config(self.root / "reconciler.yaml", [self.repo.stack_entry(deletion_guard=10, units_parallel=2)],
                            state_dir=str(self.root / "reconciler-state"), workers=2)

    def once(self) -> tuple[int, dict[str, dict[str, Any]]]:
        result = run_cli("once", "--config", str(self.config()), "--json", env=self.env, timeout=1800)
        lines = json_lines(result.stdout)
        assert lines, result.stderr[-4000:]
        return result.returncode, {line["stack"]: line for line in lines}

    def objects(self) -> dict[tuple[str, str], dict[str, str]]:
        """Every ConfigMap and Deployment in the namespace (with the ConfigMaps' data), and the Namespace itself."""
        listed = self.repo.kubectl("get", "configmaps,deployments", "--output", "json")
        assert listed.returncode == 0, listed.stderr
        found = {(item["kind"], item["metadata"]["name"]): item.get("data", {}) for item in json.loads(listed.stdout)["items"]
                 if item["metadata"]["name"] != "kube-root-ca.crt"}
        if self.repo.get("namespace", self.repo.namespace) is not None:
            found[("Namespace", self.repo.namespace)] = {}
        return found


def expected(a_values: Optional[dict[int, str]] = None, with_b: bool = True) -> dict[tuple[str, str], dict[str, str]]:
    objects: dict[tuple[str, str], dict[str, str]] = {
        ("Namespace", NAME): {}, ("ConfigMap", "web-config"): {"GREETING": "hello from git"}, ("Deployment", "web"): {},
    }
    objects.update({("ConfigMap", f"a-{i}"): {"value": (a_values or {}).get(i, "1")} for i in range(SETTINGS_A)})
    if with_b:
        objects.update({("ConfigMap", f"b-{i}"): {"value": "1"} for i in range(SETTINGS_B)})
    return objects


@pytest.fixture(scope="module")
def scenario(local_env, engine_env, tmp_path_factory):
    root = tmp_path_factory.mktemp("units-cluster")
    repo = ClusterRepo(root, NAME, local_env)
    repo.remote.commit("the manifests in four units", {**layout(NAME), "Pulumi.local.yaml": units_stack_file(NAME, local_env)})
    env = {**engine_env, **local_env, PASSPHRASE_ENV: "e2e-passphrase", REGISTRY_PASSWORD_ENV: "e2e-registry-password"}
    yield Scenario(root, repo, env)
    repo.delete_namespace()


def test_the_parent_then_every_unit_deploys_exactly_the_100_objects(scenario):
    code, lines = scenario.once()

    assert code == 0, {name: line["error"] for name, line in lines.items()}
    assert list(lines)[:2] == [NAME, f"{NAME}.platform"], "the parent, then the unit holding the Namespace the others use"
    assert set(lines) == {NAME, *(f"{NAME}.{unit}" for unit in UNITS)}
    assert all(line["result"] == "applied" for line in lines.values())
    assert scenario.objects() == expected()
    assert len(expected()) == 100


def test_a_commit_in_one_unit_runs_only_that_unit(scenario):
    scenario.repo.remote.commit("a-7 changes", {"manifests/settings-a/a-7.yaml": config_map("a-7", "2")})

    code, lines = scenario.once()

    assert code == 0
    assert {name: line["result"] for name, line in lines.items()} == {
        NAME: "applied", f"{NAME}.platform": "skipped", f"{NAME}.settings-a": "applied", f"{NAME}.settings-b": "skipped",
        f"{NAME}.web": "skipped"}
    assert lines[f"{NAME}.settings-a"]["changes"]["update"] == 1
    assert scenario.objects() == expected({7: "2"})


def test_a_removed_unit_is_blocked_by_the_guard_then_destroyed_with_the_trailer(scenario):
    gone = scenario.repo.remote.commit("settings-b goes", {"manifests/settings-b": None})

    code, lines = scenario.once()

    assert code == 1
    assert (lines[f"{NAME}.settings-b"]["result"], lines[f"{NAME}.settings-b"]["reason"]) == ("blocked", "DeletionGuard")
    assert f"unit settings-b is no longer in the plan at {gone[:12]}" in lines[f"{NAME}.settings-b"]["error"]
    allowed = int(re.search(r"`Allow-Deletes: (\d+)`", lines[f"{NAME}.settings-b"]["error"]).group(1))
    assert allowed >= SETTINGS_B, "at least its ConfigMaps (and the components holding them)"
    assert scenario.objects() == expected({7: "2"}), "blocked: nothing is deleted"

    scenario.repo.remote.commit(f"settings-b goes\n\nAllow-Deletes: {allowed}")
    code, lines = scenario.once()

    assert code == 0, {name: line["error"] for name, line in lines.items()}
    assert lines[f"{NAME}.settings-b"]["result"] == "applied"
    assert scenario.objects() == expected({7: "2"}, with_b=False)
    code, lines = scenario.once()
    assert code == 0 and f"{NAME}.settings-b" not in lines
