"""A bad commit changes nothing: a good change beside an object the cluster refuses leaves cluster and state as they were.

Each refusal comes with a good ConfigMap change in the same commit, and runs
on both `pulumi up` paths a user has: `--skip-preview` (what `make
deploy-local` and the reconciler run, where no provider dry-run happens) and
`up` with its preview. The cluster refuses for four reasons: the schema (found
offline, by the loader), a ValidatingAdmissionPolicy, a ResourceQuota and an
immutable field (found by the program's server-side dry-run).
"""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

import testsupport.admission_policy as admission_policy
from testsupport.local_project import LocalProject

pytestmark = pytest.mark.e2e

GOOD_CHANGE = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: demo-config\ndata:\n  GREETING: must not be applied\n"
FROZEN = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: frozen\nimmutable: true\ndata:\n  level: info\n"


def storage_class(namespace: str, reclaim_policy: str = "Delete") -> str:
    """Cluster-scoped, so named after the test's namespace; the API refuses a change of reclaimPolicy."""
    return (
        f"apiVersion: storage.k8s.io/v1\nkind: StorageClass\nmetadata:\n  name: {namespace}-local\n"
        f"provisioner: kubernetes.io/no-provisioner\nreclaimPolicy: {reclaim_policy}\n"
    )
PATHS = {"skip-preview": ("--skip-preview",), "with-preview": ()}


def one_service_quota(namespace: str) -> str:
    return f"apiVersion: v1\nkind: ResourceQuota\nmetadata: {{name: one-service, namespace: {namespace}}}\nspec: {{hard: {{services: '1'}}}}\n"


def wait_for(check, what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.5)


@pytest.fixture(scope="module")
def project(local_env, tmp_path_factory):
    project = LocalProject.create(tmp_path_factory.mktemp("bad-commit") / "service", local_env)
    project.write("manifests/frozen.yaml", FROZEN)
    project.write("manifests/storage-class.yaml", storage_class(project.namespace))
    project.commit("an immutable ConfigMap and a StorageClass")
    first = project.up()
    assert first.returncode == 0, first.output
    admission_policy.install(local_env["KUBECONFIG"], project.namespace)
    quota = admission_policy.kubectl(local_env["KUBECONFIG"], "apply", "-f", "-", text=one_service_quota(project.namespace))
    assert quota.returncode == 0, quota.stderr
    wait_for(lambda: (project.get("resourcequota", "one-service") or {}).get("status", {}).get("used"), "the quota to count")
    yield project
    admission_policy.remove(local_env["KUBECONFIG"], project.namespace)
    destroyed = project.destroy()
    assert destroyed.returncode == 0, destroyed.output


def state_resources(project: LocalProject) -> list[dict[str, Any]]:
    """The stack's resources, secrets decrypted: each checkpoint write encrypts them again with a new nonce."""
    exported = project.pulumi("stack", "export", "--stack", "local", "--show-secrets")
    assert exported.returncode == 0, exported.output
    return json.loads(exported.output[exported.output.index("{"):])["deployment"]["resources"]


REFUSALS = {
    "schema": (
        {"manifests/worker.yaml": "apiVersion: v1\nkind: Service\nmetadata:\n  name: worker\nspec:\n  ports:\n    - port: eighty\n"},
        "manifests/worker.yaml: document 0 (line 7): Service/worker: spec.ports[0].port is a string",
    ),
    "admission policy": (
        {"manifests/flagged.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: flagged\n  labels: {forbidden: 'yes'}\n"},
        admission_policy.REFUSAL,
    ),
    "quota": (
        {"manifests/second.yaml": "apiVersion: v1\nkind: Service\nmetadata:\n  name: second\nspec:\n  ports:\n    - port: 81\n"},
        "exceeded quota: one-service",
    ),
    "immutable field": (
        {"manifests/storage-class.yaml": lambda namespace: storage_class(namespace, reclaim_policy="Retain")},
        "updates to reclaimPolicy are forbidden",
    ),
}


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("refusal", REFUSALS)
def test_a_refused_object_beside_a_good_change_leaves_cluster_and_state_unchanged(project, refusal, path):
    files, message = REFUSALS[refusal]
    config_map = project.get("configmap", "demo-config")
    state = state_resources(project)
    head = project.repo.head.commit.hexsha
    project.write("manifests/configmap.yaml", GOOD_CHANGE)
    for name, text in files.items():
        project.write(name, text(project.namespace) if callable(text) else text)
    project.commit(f"a good change and a refused object ({refusal})")
    try:
        result = project.pulumi("up", "--stack", "local", "--yes", *PATHS[path])
    finally:
        project.repo.git.reset("--hard", head)

    assert result.returncode != 0
    assert message in result.output
    assert project.get("configmap", "demo-config")["metadata"]["resourceVersion"] == config_map["metadata"]["resourceVersion"]
    assert state_resources(project) == state


def test_an_immutable_field_the_provider_replaces_on_is_applied_as_a_replacement(project):
    frozen = project.get("configmap", "frozen")
    project.write("manifests/frozen.yaml", FROZEN.replace("level: info", "level: debug"))
    project.commit("new data for the immutable ConfigMap")

    result = project.up()

    assert result.returncode == 0, result.output
    replaced = project.get("configmap", "frozen")
    assert replaced["data"] == {"level": "debug"} and replaced["metadata"]["uid"] != frozen["metadata"]["uid"]
