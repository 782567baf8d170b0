"""The sample service on the local environment's real node: a committed change to the app's
response is built, pushed and rolled out by the reconciler, and the new response is read from
the running pods through the API server (the pods/proxy subresource).
"""

from __future__ import annotations

import json
import secrets
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client, config

from testsupport.reconciler_cluster import PASSPHRASE_ENV, REGISTRY_PASSWORD_ENV, ClusterRepo
from testsupport.reconciler_testing import PROJECT_DIR, json_lines, run_cli, write_config

pytestmark = pytest.mark.e2e
REAL_NODE = "gitops-node-0"
APP_PORT = 8080


def project_manifests(namespace: str) -> dict[str, str | None]:
    """This project's own manifests/ (the Deployment with its probes and node placement), in NAMESPACE."""
    files: dict[str, str | None] = {
        f"manifests/{path.name}": path.read_text() for path in (PROJECT_DIR / "manifests").glob("*.yaml")
    }
    files["manifests/namespace.yaml"] = f"apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {namespace}\n"
    files["manifests/extra-0.yaml"] = None
    return files


def with_release_field(server_py: str, release: str) -> str:
    """The app's / response with one more field: a change to the app itself, not to its config."""
    original = '"/": {"greeting": GREETING, "version": VERSION},'
    assert original in server_py, "app/server.py's / route changed: update this test's edit"
    return server_py.replace(original, f'"/": {{"greeting": GREETING, "version": VERSION, "release": "{release}"}},')


class RealNodeService:
    def __init__(self, root: Path, repo: ClusterRepo, env: dict[str, str]) -> None:
        self.root = root
        self.repo = repo
        self.env = env
        config.load_kube_config(config_file=env["KUBECONFIG"])
        self.core = client.CoreV1Api()
        self.apps = client.AppsV1Api()

    def once(self) -> dict[str, Any]:
        path = write_config(self.root / "reconciler.yaml", [self.repo.stack_entry()],
                            state_dir=str(self.root / "reconciler-state"), log_format="json")
        result = run_cli("once", "--config", str(path), "--json", env=self.env, timeout=900)
        lines = json_lines(result.stdout)
        assert result.returncode == 0 and len(lines) == 1, result.stdout + result.stderr[-3000:]
        return lines[0]

    def pods(self) -> list[client.V1Pod]:
        listed = self.core.list_namespaced_pod(self.repo.namespace, label_selector="app.kubernetes.io/name=demo")
        return [pod for pod in listed.items if pod.metadata.deletion_timestamp is None]

    def response(self, pod: client.V1Pod) -> dict[str, Any]:
        """GET / of the pod's app, through the API server's pods/proxy subresource."""
        # Unparsed: the client would turn a JSON body into the repr of a dict.
        answer = self.core.connect_get_namespaced_pod_proxy(f"{pod.metadata.name}:{APP_PORT}", self.repo.namespace,
                                                            _preload_content=False)
        return json.loads(answer.data)


def ready(pod: client.V1Pod) -> bool:
    return any(c.type == "Ready" and c.status == "True" for c in pod.status.conditions or [])


@pytest.fixture(scope="module")
def service(local_env, engine_env, tmp_path_factory):
    root = tmp_path_factory.mktemp("real-node")
    repo = ClusterRepo(root, "real-node-e2e", local_env)
    repo.remote.commit("service: this project's manifests", project_manifests(repo.namespace))
    env = {**engine_env, **local_env, PASSPHRASE_ENV: "e2e-passphrase", REGISTRY_PASSWORD_ENV: "e2e-registry-password"}
    yield RealNodeService(root, repo, env)
    repo.delete_namespace()


def test_the_app_runs_on_the_real_node_and_passes_its_real_readiness_probe(service):
    assert service.once()["result"] == "applied"

    pods = service.pods()
    deployment = service.apps.read_namespaced_deployment("demo", service.repo.namespace)
    assert deployment.status.available_replicas == deployment.spec.replicas == len(pods) == 2
    for pod in pods:
        assert pod.spec.node_name == REAL_NODE
        assert ready(pod), pod.status
        # A real container: the runtime reports its ID and the digest it pulled from the local registry.
        container = pod.status.container_statuses[0]
        assert container.container_id.startswith("containerd://") and container.started
        assert container.image_id.split("@")[-1] == pod.spec.containers[0].image.split("@")[-1]
        assert service.response(pod)["greeting"] == "hello from git"


def test_a_committed_change_to_the_app_is_built_rolled_out_and_served(service):
    before = {pod.metadata.name for pod in service.pods()}
    release = secrets.token_hex(6)
    server_py = (service.repo.remote.clone / "app" / "server.py").read_text()
    change = service.repo.remote.commit("app: / says which release it is",
                                        {"app/server.py": with_release_field(server_py, release)})

    run = service.once()

    assert (run["result"], run["commit"]) == ("applied", change)
    pods = service.pods()
    image = service.apps.read_namespaced_deployment("demo", service.repo.namespace).spec.template.spec.containers[0].image
    assert pods and not before & {pod.metadata.name for pod in pods}, "every pod was replaced by the rollout"
    for pod in pods:
        assert pod.spec.containers[0].image == image and pod.spec.node_name == REAL_NODE and ready(pod)
        assert service.response(pod)["release"] == release
