"""The program's two shapes with units, under mocks: a parent holding registry, image and cluster, and unit stacks
deploying one unit's manifests with the parent's cluster and image, read through a StackReference."""

import json

import git
import pytest

import program
from manifest_loader import ManifestError
from manifest_loader.unit_plan_file import PLAN_FILE_ENV, UnitPlanFile, write_unit_plan
from manifest_loader.units import UnitError, plan_units
from program import gitops_program
from stack_settings import StackConfigError
from testsupport.pulumi_mocks import (
    STACK_REFERENCE,
    ProgramRun,
    RecordingMocks,
    is_secret_input,
    reveal,
    run_program,
    stack_config,
)

CONFIG_GROUP = "kubernetes:yaml/v2:ConfigGroup"
PROVIDER = "pulumi:providers:kubernetes"
UNITS = {"pulumi-gitops:units": {"units": {"apps": {"dependsOn": ["platform"]}}}}
PARENT = "organization/pulumi-gitops/dev"
PARENT_KUBECONFIG = "apiVersion: v1\nkind: Config\n# the parent's cluster\n"
PARENT_IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/demo@sha256:" + "cd" * 32


@pytest.fixture
def split_repo(project_repo):
    """The project's manifests in two folders: platform holds the Namespace, apps the rest."""
    repo = git.Repo(project_repo)
    (project_repo / "manifests" / "platform").mkdir()
    repo.git.mv("manifests/namespace.yaml", "manifests/platform/namespace.yaml")
    (project_repo / "manifests" / "apps").mkdir()
    for name in ("configmap.yaml", "deployment.yaml", "pdb.yaml", "service.yaml"):
        repo.git.mv(f"manifests/{name}", f"manifests/apps/{name}")
    repo.git.commit("-m", "manifests in two units")
    return project_repo


def run_stack(stack, repo_dir, extra=None, run=None):
    overrides = {
        "pulumi-gitops:appDir": str(repo_dir / "app"),
        "pulumi-gitops:manifestsDir": str(repo_dir / "manifests"),
        **UNITS,
        # What the reconciler sets on a unit stack `<stack>.<unit>`, beside its copy of the parent's config.
        **({"pulumi-gitops:unit": stack.rsplit(".", 1)[1]} if "." in stack else {}),
        **(extra or {}),
    }
    run = run or ProgramRun(RecordingMocks())
    run.mocks.stack_outputs.setdefault(PARENT, {"kubeconfig": PARENT_KUBECONFIG, "imageRef": PARENT_IMAGE})
    # A unit stack's config file is its parent's, copied: Pulumi.dev.yaml for dev.apps.
    return run_program(gitops_program, stack, stack_config("dev", overrides), run=run, organization="organization")


def deployed(run):
    return {(o["kind"], o["metadata"]["name"]) for o in reveal(run.mocks.one(CONFIG_GROUP).inputs["objs"])}


def test_the_parent_holds_registry_image_and_cluster_and_no_workloads(split_repo):
    run = run_stack("dev", split_repo)
    types = {r.typ for r in run.mocks.registered}

    assert {"aws:ecr/repository:Repository", "docker-build:index:Image", "aws:eks/cluster:Cluster"} <= types
    assert CONFIG_GROUP not in types and STACK_REFERENCE not in types
    assert run.exports["units"] == [
        {"name": "platform", "files": ["platform/namespace.yaml"], "dependsOn": []},
        {"name": "apps", "files": ["apps/configmap.yaml", "apps/deployment.yaml", "apps/pdb.yaml", "apps/service.yaml"],
         "dependsOn": ["platform"]},
    ]
    assert run.exports["commit"] == git.Repo(split_repo).head.commit.hexsha
    assert "kubeconfig" in run.secret_exports and run.exports["imageRef"].endswith("@sha256:" + "ab" * 32)
    assert "objects" not in run.exports


def test_a_unit_stack_deploys_its_own_manifests_with_the_parent_s_image_and_cluster(split_repo):
    run = run_stack("dev.apps", split_repo)
    types = {r.typ for r in run.mocks.registered}
    objects = reveal(run.mocks.one(CONFIG_GROUP).inputs["objs"])
    container = next(o for o in objects if o["kind"] == "Deployment")["spec"]["template"]["spec"]["containers"][0]
    provider = run.mocks.one(PROVIDER)

    assert run.mocks.one(STACK_REFERENCE).inputs["name"] == PARENT
    assert {(o["kind"], o["metadata"]["name"]) for o in objects} == {
        ("ConfigMap", "demo-config"), ("Deployment", "demo"), ("Service", "demo"), ("PodDisruptionBudget", "demo"),
    }
    assert container["image"] == PARENT_IMAGE
    assert is_secret_input(provider.inputs["kubeconfig"]) and reveal(provider.inputs["kubeconfig"]) == PARENT_KUBECONFIG
    assert not any(t.startswith(("aws:", "docker-build:")) for t in types), "a unit builds and creates no infrastructure"
    assert (run.exports["unit"], run.exports["dependsOn"]) == ("apps", ["platform"])
    assert run.exports["commit"] == git.Repo(split_repo).head.commit.hexsha
    assert sorted(run.exports["objects"]) == [
        "apps/Deployment/demo/demo", "core/ConfigMap/demo/demo-config", "core/Service/demo/demo",
        "policy/PodDisruptionBudget/demo/demo",
    ]


def test_a_unit_stack_takes_the_stack_named_by_infra_stack(split_repo):
    run = ProgramRun(RecordingMocks())
    run.mocks.stack_outputs["acme/infra/shared"] = {"kubeconfig": PARENT_KUBECONFIG, "imageRef": "registry/x@sha256:1"}

    run_stack("dev.platform", split_repo, {"pulumi-gitops:infraStack": "acme/infra/shared"}, run=run)

    assert run.mocks.one(STACK_REFERENCE).inputs["name"] == "acme/infra/shared"
    assert deployed(run) == {("Namespace", "demo")}


def test_a_broken_manifest_in_another_unit_does_not_stop_this_one(split_repo):
    (split_repo / "manifests" / "apps" / "broken.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {}\n")
    git.Repo(split_repo).git.add("--all")
    git.Repo(split_repo).git.commit("-m", "broken manifest in apps")

    assert deployed(run_stack("dev.platform", split_repo)) == {("Namespace", "demo")}
    run = ProgramRun(RecordingMocks())
    with pytest.raises(ManifestError, match=r"manifests/apps/broken\.yaml: document 0"):
        run_stack("dev.apps", split_repo, run=run)
    assert [r.typ for r in run.mocks.registered] == [], "the unit's bad commit registers nothing"


def test_a_unit_stack_of_a_unit_the_plan_does_not_hold_registers_nothing(split_repo):
    run = ProgramRun(RecordingMocks())

    with pytest.raises(UnitError, match=r"there is no unit 'web' \(units: platform, apps\)"):
        run_stack("dev.web", split_repo, run=run)
    assert run.mocks.registered == []


@pytest.mark.parametrize(
    ("stack", "extra", "message"),
    [
        ("dev.apps", {"pulumi-gitops:unit": "apps"},
         r"Pulumi\.dev\.apps\.yaml: pulumi-gitops:unit: is 'apps' but pulumi-gitops:units is not set"),
        ("dev.apps", {**UNITS, "pulumi-gitops:unit": "Apps"}, r"pulumi-gitops:unit: 'Apps' is not a unit name"),
        ("other", {**UNITS, "pulumi-gitops:unit": "apps"},
         r"pulumi-gitops:infraStack: the stack 'other' does not end with '\.apps'"),
        ("dev", {"pulumi-gitops:units": {"split": "glob"}}, r"Pulumi\.dev\.yaml: pulumi-gitops:units\.split: must be one of"),
    ],
)
def test_bad_unit_config_names_the_stack_file_and_the_key(split_repo, stack, extra, message):
    run = ProgramRun(RecordingMocks())
    config = stack_config("dev", {"pulumi-gitops:manifestsDir": str(split_repo / "manifests"), **extra})

    with pytest.raises(StackConfigError, match=message):
        run_program(gitops_program, stack, config, run=run, organization="organization")
    assert run.mocks.registered == []


def test_a_review_stack_of_a_stack_with_units_deploys_every_manifest_in_its_namespace(split_repo):
    run = run_stack("dev", split_repo, {"pulumi-gitops:reviewNamespace": "demo-pr-7"})

    assert ("Namespace", "demo-pr-7") in deployed(run) and ("Deployment", "demo") in deployed(run)
    assert "units" not in run.exports


def test_units_config_is_read_as_the_stack_file_holds_it(split_repo):
    run = run_stack("dev", split_repo, {"pulumi-gitops:units": json.dumps({"split": "globs", "units": {
        "all": {"paths": ["**"]}}})})

    assert [unit["name"] for unit in run.exports["units"]] == ["all"]


def handed_plan(monkeypatch, tmp_path, **fields):
    """The plan file the reconciler writes beside a unit's checkout, named in the program's environment."""
    path = tmp_path / "state" / "unit-plan.json"
    write_unit_plan(path, UnitPlanFile(**{
        "stack": "dev.apps", "unit": "apps", "files": ("apps/deployment.yaml",), "depends_on": ("elsewhere",), **fields,
    }))
    monkeypatch.setenv(PLAN_FILE_ENV, str(path))
    return path


def planning_spy(monkeypatch):
    calls = []

    def spy(*args, **kwargs):
        calls.append(args)
        return plan_units(*args, **kwargs)

    monkeypatch.setattr(program, "plan_units", spy)
    return calls


def test_a_unit_stack_takes_its_files_from_the_plan_the_reconciler_handed_it_for_its_commit(
    split_repo, monkeypatch, tmp_path,
):
    handed_plan(monkeypatch, tmp_path, commit=git.Repo(split_repo).head.commit.hexsha)
    calls = planning_spy(monkeypatch)

    run = run_stack("dev.apps", split_repo)

    assert calls == [], "no planning: the other units' manifests are not read"
    assert deployed(run) == {("Deployment", "demo")}, "the handed plan's one file, not the four the folder holds"
    assert (run.exports["unit"], run.exports["dependsOn"]) == ("apps", ["elsewhere"])


@pytest.mark.parametrize(
    "fields",
    [lambda older: {"commit": older}, lambda older: {"unit": "platform"}, lambda older: {"stack": "prod.apps"}],
    ids=["planned-at-the-commit-before", "another-unit", "another-stack"],
)
def test_a_handed_plan_for_another_commit_unit_or_stack_is_ignored(split_repo, monkeypatch, tmp_path, fields):
    repo = git.Repo(split_repo)
    older = repo.head.commit.hexsha
    (split_repo / "manifests" / "apps" / "more.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: more, namespace: demo}\n")
    repo.git.add("--all")
    repo.git.commit("-m", "one more ConfigMap in apps")
    head = repo.head.commit.hexsha
    handed_plan(monkeypatch, tmp_path, **{"commit": head, **fields(older)})
    calls = planning_spy(monkeypatch)

    run = run_stack("dev.apps", split_repo)

    assert len(calls) == 1, "planned here"
    assert ("ConfigMap", "more") in deployed(run) and ("Service", "demo") in deployed(run)
    assert run.exports["dependsOn"] == ["platform"]


@pytest.mark.parametrize(
    "text",
    ["{not json", "[]", json.dumps({"format": 2, "stack": "dev.apps", "unit": "apps", "commit": "HEAD",
                                     "files": ["apps/deployment.yaml"], "dependsOn": []}),
     json.dumps({"format": 1, "stack": "dev.apps", "unit": "apps", "commit": "HEAD", "files": "apps/deployment.yaml",
                 "dependsOn": []})],
    ids=["not-json", "not-a-map", "another-format", "files-not-a-list"],
)
def test_a_handed_plan_that_cannot_be_read_is_no_error_the_unit_plans_itself(
    split_repo, monkeypatch, tmp_path, text,
):
    head = git.Repo(split_repo).head.commit.hexsha
    path = handed_plan(monkeypatch, tmp_path, commit=head)
    path.write_text(text.replace('"HEAD"', json.dumps(head)))
    calls = planning_spy(monkeypatch)

    run = run_stack("dev.apps", split_repo)

    assert len(calls) == 1
    assert len(deployed(run)) == 4


def test_a_handed_plan_file_that_is_gone_is_no_error_either(split_repo, monkeypatch, tmp_path):
    monkeypatch.setenv(PLAN_FILE_ENV, str(tmp_path / "no-such-plan.json"))

    assert len(deployed(run_stack("dev.apps", split_repo))) == 4
