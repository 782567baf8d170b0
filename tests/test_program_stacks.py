"""The whole program under mocks, on each stack's real config, with a real Git checkout of the service."""

import base64
import json

import git
import pytest

from manifest_loader import ManifestError
from program import gitops_program
from stack_settings import StackConfigError
from testsupport.pulumi_mocks import FAKE_DIGEST, ProgramRun, RecordingMocks, is_secret_input, reveal, run_program, stack_config

CONFIG_GROUP = "kubernetes:yaml/v2:ConfigGroup"


def run_stack(stack, project_repo, extra=None, run=None, secret_keys=None):
    overrides = {
        "pulumi-gitops:appDir": str(project_repo / "app"),
        "pulumi-gitops:manifestsDir": str(project_repo / "manifests"),
        **(extra or {}),
    }
    return run_program(gitops_program, stack, stack_config(stack, overrides), secret_keys=secret_keys, run=run)


def commit_manifest(project_repo, name, content):
    (project_repo / "manifests" / name).write_text(content)
    repo = git.Repo(project_repo)
    repo.git.add("--all")
    repo.git.commit("-m", f"add {name}")


@pytest.fixture
def local_extra(kubeconfig_file):
    # The kubeconfig names no real cluster; the dry-run on a real one is tested in tests/e2e.
    return {"pulumi-gitops:kubeconfig": str(kubeconfig_file), "pulumi-gitops:serverDryRun": "false"}


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


SECRET_MANIFEST = "apiVersion: v1\nkind: Secret\nmetadata: {name: db}\ndata:\n  password: ${secret:db-password}\n"
SECRETS_KEY = "pulumi-gitops:secrets"


def test_secret_placeholders_take_encrypted_config_values_and_the_objects_stay_secret(project_repo):
    commit_manifest(project_repo, "secret.yaml", SECRET_MANIFEST)
    secrets = {SECRETS_KEY: json.dumps({"db-password": "pa55 word", "unused": "x"})}

    run = run_stack("dev", project_repo, secrets, secret_keys=[SECRETS_KEY])
    objs = run.mocks.one(CONFIG_GROUP).inputs["objs"]
    secret = next(o for o in reveal(objs) if o["kind"] == "Secret")

    assert is_secret_input(objs)
    assert base64.b64decode(secret["data"]["password"]) == b"pa55 word"


def test_without_secret_placeholders_the_objects_are_not_secret(project_repo):
    secrets = {SECRETS_KEY: json.dumps({"db-password": "pa55 word"})}

    run = run_stack("dev", project_repo, secrets, secret_keys=[SECRETS_KEY])

    assert not is_secret_input(run.mocks.one(CONFIG_GROUP).inputs["objs"])


def test_secrets_written_in_plaintext_config_are_refused(project_repo):
    with pytest.raises(StackConfigError, match=r"Pulumi.dev.yaml: pulumi-gitops:secrets: holds plaintext"):
        run_stack("dev", project_repo, {SECRETS_KEY: json.dumps({"db-password": "pa55"})}, secret_keys=[])


def test_a_plaintext_value_beside_encrypted_ones_in_the_stack_file_is_refused(project_repo, tmp_path, monkeypatch):
    # `pulumi config set --path` without --secret writes one plain value into the otherwise encrypted map.
    monkeypatch.chdir(tmp_path)
    (tmp_path / "Pulumi.dev.yaml").write_text(
        "config:\n  pulumi-gitops:secrets:\n    db-password: {secure: 'v1:abc'}\n    api-token: forgot-the-flag\n"
    )
    secrets = {SECRETS_KEY: json.dumps({"db-password": "pa55", "api-token": "forgot-the-flag"})}

    with pytest.raises(StackConfigError, match=r"pulumi-gitops:secrets: holds plaintext \(api-token\) in Pulumi.dev.yaml"):
        run_stack("dev", project_repo, secrets, secret_keys=[SECRETS_KEY])


def test_an_unknown_secret_name_fails_before_any_resource_is_registered(project_repo):
    commit_manifest(project_repo, "secret.yaml", SECRET_MANIFEST)
    run = ProgramRun(RecordingMocks())

    with pytest.raises(ManifestError, match=r"manifests/secret.yaml: document 0 \(line 5\): Secret/db: data.password asks for the secret 'db-password'"):
        run_stack("dev", project_repo, run=run)
    assert run.mocks.registered == []


def test_a_schema_error_beside_a_good_object_fails_before_any_resource_is_registered(project_repo):
    commit_manifest(project_repo, "good.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: good}\ndata: {a: b}\n")
    commit_manifest(
        project_repo,
        "bad.yaml",
        "apiVersion: v1\nkind: Service\nmetadata: {name: bad}\nspec:\n  ports: [{port: eighty}]\n",
    )
    run = ProgramRun(RecordingMocks())

    with pytest.raises(ManifestError, match=r"manifests/bad.yaml: document 0 \(line 5\): Service/bad: spec.ports\[0\].port is a string"):
        run_stack("dev", project_repo, run=run)
    assert run.mocks.registered == []


def test_the_local_stack_checks_manifests_against_its_cluster_s_release(project_repo, local_extra):
    commit_manifest(project_repo, "flow.yaml", "apiVersion: flowcontrol.apiserver.k8s.io/v1beta2\nkind: FlowSchema\nmetadata: {name: f}\n")

    with pytest.raises(ManifestError, match=r"not served by Kubernetes 1.34. Use one of: flowcontrol.apiserver.k8s.io/v1\b"):
        run_stack("local", project_repo, local_extra)


def test_config_maps_and_secrets_are_updated_in_place(project_repo, local_extra):
    provider = run_stack("local", project_repo, local_extra).mocks.one("pulumi:providers:kubernetes")

    assert json.loads(str(provider.inputs["enableConfigMapMutable"]).lower()) is True
    assert json.loads(str(provider.inputs["enableSecretMutable"]).lower()) is True


def test_a_kubernetes_version_without_schemas_is_refused_naming_the_key(project_repo):
    with pytest.raises(StackConfigError, match=r"Pulumi.dev.yaml: pulumi-gitops:kubernetesVersion: '1.12' has no API schemas"):
        run_stack("dev", project_repo, {"pulumi-gitops:kubernetesVersion": "1.12"})


def test_the_reconciler_image_and_manifests_are_built_and_deployed_only_when_opted_in(project_repo, local_extra, tmp_path):
    for folder in ("tools", "wheels"):
        (tmp_path / folder).mkdir()
    opted_in = {**local_extra, "pulumi-gitops:reconcilerImage": "true", "pulumi-gitops:reconcilerBuildInputs": str(tmp_path)}

    off = run_stack("local", project_repo, local_extra)
    on = run_stack("local", project_repo, opted_in)

    assert len(off.mocks.of_type("docker-build:index:Image")) == 1 and "reconcilerImageRef" not in off.exports
    builds = {r.name: r.inputs for r in on.mocks.of_type("docker-build:index:Image")}
    reconciler_build = builds["reconciler-build"]
    assert reconciler_build["dockerfile"] == {"location": "deploy/reconciler/Dockerfile"}
    assert reconciler_build["context"]["named"] == {
        "tools": {"location": str(tmp_path / "tools")}, "wheels": {"location": str(tmp_path / "wheels")},
    }
    # Its own base, with git; the app's build args are the app's alone.
    assert reconciler_build["buildArgs"] == {"RECONCILER_BASE_IMAGE": "127.0.0.1:5050/base/python-git:3.11"}
    assert builds["app-build"]["buildArgs"] == {"BASE_IMAGE": "127.0.0.1:5050/base/python:3.11"}
    assert on.exports["reconcilerImageRef"] == f"127.0.0.1:5050/demo-reconciler@{FAKE_DIGEST}"
    groups = {r.name: reveal(r.inputs["objs"]) for r in on.mocks.of_type(CONFIG_GROUP)}
    [deployment] = [o for o in groups["reconciler-manifests"] if o["kind"] == "Deployment"]
    assert deployment["metadata"]["namespace"] == "gitops-system"
    assert deployment["spec"]["template"]["spec"]["containers"][0]["image"] == on.exports["reconcilerImageRef"]
    assert {o["kind"] for o in groups["workloads-manifests"]} == {o["kind"] for o in deployed_objects(off)}
