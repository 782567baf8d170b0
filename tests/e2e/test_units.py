"""Units for real: a parent stack and one stack per manifests folder, `pulumi up` with a file backend on the local
cluster, as the reconciler runs them (the unit stack's config file is the parent's copy plus pulumi-gitops:unit).

The tests run in order on one set of stacks, as a user's commits would.
"""

import json
import shutil

import pytest

from testsupport.local_project import LocalProject

pytestmark = pytest.mark.e2e

UNITS = ("platform", "apps")  # in the order the plan gives: apps' objects live in platform's Namespace
APP_FILES = ("configmap.yaml", "deployment.yaml", "pdb.yaml", "service.yaml")
KINDS = "namespaces,configmaps,deployments,services,poddisruptionbudgets"


@pytest.fixture(scope="module")
def project(local_env, tmp_path_factory):
    project = LocalProject.create(tmp_path_factory.mktemp("units") / "service", local_env)
    (project.root / "manifests" / "platform").mkdir()
    (project.root / "manifests" / "apps").mkdir()
    project.repo.git.mv("manifests/namespace.yaml", "manifests/platform/namespace.yaml")
    for name in APP_FILES:
        project.repo.git.mv(f"manifests/{name}", f"manifests/apps/{name}")
    project.commit("manifests in two folders, one unit each")
    configured = project.pulumi("config", "set", "--stack", "local", "--path", "pulumi-gitops:units.split", "folders")
    assert configured.returncode == 0, configured.output
    yield project
    listed = project.pulumi("stack", "ls", "--json")
    existing = {stack["name"] for stack in json.loads(listed.output[listed.output.index("["):])}
    for stack in ("local.apps", "local.platform", "local"):  # units first: they use the parent's cluster
        if stack in existing:
            destroyed = project.destroy(stack=stack)
            assert destroyed.returncode == 0, destroyed.output


def unit_stack(project, unit):
    """What the reconciler does: a stack `local.<unit>` whose config is the parent's file, copied, plus its unit."""
    stack = f"local.{unit}"
    created = project.pulumi("stack", "init", stack)
    assert created.returncode == 0, created.output
    shutil.copyfile(project.root / "Pulumi.local.yaml", project.root / f"Pulumi.{stack}.yaml")
    configured = project.pulumi("config", "set", "--stack", stack, "pulumi-gitops:unit", unit)
    assert configured.returncode == 0, configured.output
    return stack


def managed_objects(project):
    """(kind, name) of every object the program manages in the test's namespace, and its Namespace."""
    listed = project.kubectl("get", KINDS, "--all-namespaces", "--selector", "app.kubernetes.io/managed-by=pulumi-gitops",
                             "--output", "json")
    assert listed.returncode == 0, listed.stderr
    items = json.loads(listed.stdout)["items"]
    return {
        (item["kind"], item["metadata"]["name"]) for item in items
        if project.namespace in (item["metadata"].get("namespace"), item["metadata"]["name"])
    }


def test_the_parent_deploys_the_cluster_and_image_and_exports_the_plan_but_no_object(project):
    result = project.up()
    outputs = project.outputs()

    assert result.returncode == 0, result.output
    assert outputs["units"] == [
        {"name": "platform", "files": ["platform/namespace.yaml"], "dependsOn": []},
        {"name": "apps", "files": [f"apps/{name}" for name in APP_FILES], "dependsOn": ["platform"]},
    ]
    assert outputs["commit"] == project.repo.head.commit.hexsha
    assert "@sha256:" in outputs["imageRef"] and "kubeconfig" in outputs
    assert managed_objects(project) == set()


def test_each_unit_stack_applies_exactly_its_own_objects(project):
    parent_image = project.outputs()["imageRef"]

    for unit in UNITS:
        result = project.up(stack=unit_stack(project, unit))
        assert result.returncode == 0, result.output

    deployment = project.get("deployment", "demo")
    assert managed_objects(project) == {
        ("Namespace", project.namespace), ("ConfigMap", "demo-config"), ("Deployment", "demo"), ("Service", "demo"),
        ("PodDisruptionBudget", "demo"),
    }
    assert deployment["spec"]["template"]["spec"]["containers"][0]["image"] == parent_image
    assert project.outputs("local.platform")["objects"] == [f"core/Namespace/{project.namespace}"]
    assert project.outputs("local.apps")["unit"] == "apps"


def test_a_commit_removing_an_object_of_one_unit_changes_only_that_unit(project):
    project.repo.git.rm("manifests/apps/pdb.yaml")
    commit = project.commit("no more disruption budget")

    unchanged = {stack: project.up("--expect-no-changes", stack=stack) for stack in ("local", "local.platform")}
    changed = project.up(stack="local.apps")

    for stack, result in unchanged.items():
        assert result.returncode == 0, f"{stack} changed:\n{result.output}"
    assert changed.returncode == 0, changed.output
    assert "1 deleted" in changed.output
    assert managed_objects(project) == {
        ("Namespace", project.namespace), ("ConfigMap", "demo-config"), ("Deployment", "demo"), ("Service", "demo"),
    }
    assert project.outputs("local.apps")["commit"] == commit
