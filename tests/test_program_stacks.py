"""The whole program under mocks, on each stack's real config, with a real Git checkout of the service."""

import git
import pytest

from manifest_loader import ManifestError
from program import gitops_program
from pulumi_mocks import FAKE_DIGEST, ProgramRun, RecordingMocks, reveal, run_program, stack_config

CONFIG_GROUP = "kubernetes:yaml/v2:ConfigGroup"


def run_stack(stack, project_repo, extra=None, run=None):
    overrides = {
        "pulumi-gitops:appDir": str(project_repo / "app"),
        "pulumi-gitops:manifestsDir": str(project_repo / "manifests"),
        **(extra or {}),
    }
    return run_program(gitops_program, stack, stack_config(stack, overrides), run=run)


@pytest.fixture
def local_extra(kubeconfig_file):
    return {"pulumi-gitops:kubeconfig": str(kubeconfig_file)}


def deployed_objects(run):
    return reveal(run.mocks.one(CONFIG_GROUP).inputs["objs"])


def test_dev_deploys_every_tracked_manifest_with_the_pushed_image(project_repo):
    run = run_stack("dev", project_repo)
    objects = {(o["kind"], o["metadata"]["name"]): o for o in deployed_objects(run)}
    container = objects[("Deployment", "demo")]["spec"]["template"]["spec"]["containers"][0]
    repository_url = run.exports["registryUrl"]

    assert set(objects) == {
        ("Namespace", "demo"), ("ConfigMap", "demo-config"), ("Deployment", "demo"),
        ("Service", "demo"), ("PodDisruptionBudget", "demo"),
    }
    assert container["image"] == f"{repository_url}@{FAKE_DIGEST}" == run.exports["imageRef"]
    assert run.mocks.one("docker-build:index:Image").inputs["tags"] == [f"{repository_url}:{run.exports['imageTag']}"]


def test_every_object_carries_the_commit_and_manager_labels(project_repo):
    run = run_stack("dev", project_repo)
    commit = run.exports["commit"]

    assert len(commit) == 40
    for obj in deployed_objects(run):
        labels = obj["metadata"]["labels"]
        assert labels["pulumi-gitops.dev/commit"] == commit
        assert labels["app.kubernetes.io/managed-by"] == "pulumi-gitops"


def test_namespaced_objects_get_the_default_namespace(project_repo):
    run = run_stack("dev", project_repo)
    namespaces = {o["kind"]: o["metadata"].get("namespace") for o in deployed_objects(run)}
    assert namespaces == {"Namespace": None, "ConfigMap": "demo", "Deployment": "demo", "Service": "demo", "PodDisruptionBudget": "demo"}


def test_prod_protects_registry_and_cluster_and_dev_does_not(project_repo):
    prod, dev = run_stack("prod", project_repo), run_stack("dev", project_repo)

    for name in ("registry", "registry-repo", "cluster", "cluster-eks", "cluster-nodes", "cluster-net-vpc"):
        assert prod.protected(name) is True, name
        assert dev.protected(name) is False, name
    assert prod.protected("workloads") is False
    assert prod.protected("app-build") is False
    assert prod.mocks.one("aws:ecr/repository:Repository").inputs["imageTagMutability"] == "IMMUTABLE"
    assert dev.mocks.one("aws:ecr/repository:Repository").inputs["imageTagMutability"] == "MUTABLE"


def test_kubeconfig_export_is_secret_on_every_stack(project_repo, local_extra):
    for stack, extra in (("dev", None), ("prod", None), ("local", local_extra)):
        run = run_stack(stack, project_repo, extra)
        assert "kubeconfig" in run.secret_exports, stack
        assert "imageRef" not in run.secret_exports, stack


def test_exports_name_the_deployed_objects(project_repo):
    objects = run_stack("dev", project_repo).exports["objects"]
    assert sorted(objects) == [
        "apps/Deployment/demo/demo", "core/ConfigMap/demo/demo-config", "core/Namespace/demo",
        "core/Service/demo/demo", "policy/PodDisruptionBudget/demo/demo",
    ]


def test_local_stack_creates_no_aws_resources(project_repo, local_extra):
    run = run_stack("local", project_repo, local_extra)
    types = {r.typ for r in run.mocks.registered}

    assert not any(t.startswith("aws:") for t in types)
    assert run.exports["registryUrl"] == "127.0.0.1:5050/demo"
    assert run.exports["clusterEndpoint"] == "https://127.0.0.1:16443"
    assert run.mocks.one("docker-build:index:Image").inputs["buildArgs"] == {"BASE_IMAGE": "127.0.0.1:5050/base/python:3.11"}


def test_prod_refuses_uncommitted_manifests_and_creates_nothing(project_repo):
    (project_repo / "manifests" / "configmap.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: edited}\n")

    with pytest.raises(ManifestError, match="configmap.yaml"):
        run_stack("prod", project_repo)
    assert run_stack("dev", project_repo).exports["manifestsDirty"] is True


def test_an_invalid_manifest_fails_before_any_resource_is_registered(project_repo):
    (project_repo / "manifests" / "broken.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {}\n")
    repo = git.Repo(project_repo)
    repo.git.add("--all")
    repo.git.commit("-m", "broken manifest")
    run = ProgramRun(RecordingMocks())

    with pytest.raises(ManifestError, match=r"manifests/broken.yaml: document 0"):
        run_stack("dev", project_repo, run=run)
    assert run.mocks.registered == []
