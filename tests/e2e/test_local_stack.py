"""`pulumi up -s local` for real: docker-build, the local registry, the Kubernetes API and kwok.

The tests run in order on one stack, as a user's commits would.
"""

import urllib.request

import pytest

from testsupport.local_project import LocalProject

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def project(local_env, tmp_path_factory):
    project = LocalProject.create(tmp_path_factory.mktemp("e2e") / "service", local_env)
    yield project
    destroyed = project.destroy()
    assert destroyed.returncode == 0, destroyed.output


def registry_digest(registry: str, repository: str, tag: str) -> str:
    request = urllib.request.Request(
        f"http://{registry}/v2/{repository}/manifests/{tag}",
        method="HEAD",
        headers={"Accept": ", ".join([
            "application/vnd.oci.image.index.v1+json",
            "application/vnd.oci.image.manifest.v1+json",
            "application/vnd.docker.distribution.manifest.list.v2+json",
            "application/vnd.docker.distribution.manifest.v2+json",
        ])},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.headers["Docker-Content-Digest"]


def test_first_up_builds_pushes_applies_and_waits_for_the_deployment(project, local_env):
    result = project.up()
    assert result.returncode == 0, result.output
    outputs = project.outputs()
    repository, digest = outputs["imageRef"].split("@")
    deployment = project.get("deployment", "demo")

    assert digest == registry_digest(local_env["GITOPS_REGISTRY"], "demo", outputs["imageTag"])
    assert repository == f"{local_env['GITOPS_REGISTRY']}/demo"
    assert deployment["spec"]["template"]["spec"]["containers"][0]["image"] == outputs["imageRef"]
    assert deployment["metadata"]["labels"]["pulumi-gitops.dev/commit"] == project.repo.head.commit.hexsha
    available = {c["type"]: c["status"] for c in deployment["status"]["conditions"]}["Available"]
    assert available == "True" and deployment["status"]["availableReplicas"] == 2
    ns = project.namespace
    assert sorted(outputs["objects"]) == [
        f"apps/Deployment/{ns}/demo", f"core/ConfigMap/{ns}/demo-config", f"core/Namespace/{ns}",
        f"core/Service/{ns}/demo", f"policy/PodDisruptionBudget/{ns}/demo",
    ]


def test_a_second_up_reports_no_changes(project):
    result = project.up("--expect-no-changes")
    assert result.returncode == 0, result.output


def test_a_committed_manifest_change_updates_the_object(project):
    project.write("manifests/configmap.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: demo-config\ndata:\n  GREETING: changed in git\n")
    commit = project.commit("greeting changed")

    result = project.up()
    config_map = project.get("configmap", "demo-config")

    assert result.returncode == 0, result.output
    assert config_map["data"] == {"GREETING": "changed in git"}
    assert config_map["metadata"]["labels"]["pulumi-gitops.dev/commit"] == commit


def test_removing_a_manifest_deletes_the_object(project):
    project.repo.git.rm("manifests/pdb.yaml")
    project.commit("no more disruption budget")

    result = project.up()

    assert result.returncode == 0, result.output
    assert project.get("poddisruptionbudget", "demo") is None
    assert project.get("deployment", "demo") is not None


def test_an_invalid_manifest_fails_naming_the_file_and_changes_nothing(project):
    before = project.get("configmap", "demo-config")
    project.write("manifests/configmap.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: demo-config\ndata:\n  GREETING: must not be applied\n")
    project.write("manifests/broken.yaml", "apiVersion: v1\nkind: Secret\nmetadata:\n  labels: {a: b}\n")
    project.commit("a good change and a broken manifest")

    result = project.up()
    after = project.get("configmap", "demo-config")

    assert result.returncode != 0
    assert "manifests/broken.yaml: document 0" in result.output and "metadata.name" in result.output
    assert after["data"] == before["data"] == {"GREETING": "changed in git"}
    assert after["metadata"]["resourceVersion"] == before["metadata"]["resourceVersion"]
