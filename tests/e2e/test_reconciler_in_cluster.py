"""The reconciler as a workload: with `reconcilerImage` on, an `up` builds its image and its pod runs on the
real node, Ready by its own probes, answering /healthz through the API server."""

import json

import pytest

from testsupport.local_project import LocalProject

pytestmark = pytest.mark.e2e

NAMESPACE = "gitops-system"
# What the image is built from, beside the program: the reconciler's code, its Dockerfile and manifests,
# and the tool versions its tag follows.
RECONCILER_FILES = ("reconciler", "deploy", "tools/versions.env")


@pytest.fixture(scope="module")
def project(local_env, tmp_path_factory):
    project = LocalProject.create(tmp_path_factory.mktemp("in-cluster") / "service", local_env, RECONCILER_FILES)
    turned_on = project.pulumi("config", "set", "--stack", "local", "pulumi-gitops:reconcilerImage", "true")
    assert turned_on.returncode == 0, turned_on.output
    project.commit("run the reconciler in the cluster")
    yield project
    destroyed = project.destroy()
    assert destroyed.returncode == 0, destroyed.output


def reconciler_pods(project: LocalProject) -> list[dict]:
    found = project.kubectl("get", "pods", "--namespace", NAMESPACE, "--selector",
                            "app.kubernetes.io/name=reconciler", "--output", "json")
    assert found.returncode == 0, found.stderr
    return json.loads(found.stdout)["items"]


def test_up_builds_the_image_and_the_pod_becomes_ready_on_the_real_node(project):
    result = project.up()
    assert result.returncode == 0, result.output
    image_ref = project.outputs()["reconcilerImageRef"]

    [pod] = [p for p in reconciler_pods(project) if p["metadata"].get("deletionTimestamp") is None]
    conditions = {c["type"]: c["status"] for c in pod["status"]["conditions"]}
    container = pod["spec"]["containers"][0]
    assert pod["spec"]["nodeName"] == "gitops-node-0"
    assert conditions["Ready"] == "True"
    assert container["image"] == image_ref
    assert image_ref.startswith(f"{project.local_env['GITOPS_REGISTRY']}/demo-reconciler@sha256:")
    [status] = pod["status"]["containerStatuses"]
    assert status["ready"] and status["restartCount"] == 0


def test_the_pod_answers_healthz_through_the_api_server(project):
    [pod] = [p for p in reconciler_pods(project) if p["metadata"].get("deletionTimestamp") is None]
    name = pod["metadata"]["name"]

    healthz = project.kubectl("get", "--raw", f"/api/v1/namespaces/{NAMESPACE}/pods/{name}:8099/proxy/healthz")
    readyz = project.kubectl("get", "--raw", f"/api/v1/namespaces/{NAMESPACE}/pods/{name}:8099/proxy/readyz")

    assert (healthz.returncode, healthz.stdout) == (0, "ok\n"), healthz.stderr
    assert (readyz.returncode, readyz.stdout) == (0, "ok\n"), readyz.stderr

