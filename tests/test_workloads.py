import pytest

from components.workloads import Workloads, WorkloadsArgs
from manifest_loader import load_manifests
from testsupport.git_repos import commit_all, init_repo
from testsupport.pulumi_mocks import reveal, run_program

DIGEST_REF = "127.0.0.1:5050/demo@sha256:" + "cd" * 32


@pytest.fixture
def loaded(tmp_path):
    repo = init_repo(tmp_path / "svc")
    manifests = tmp_path / "svc" / "manifests"
    manifests.mkdir()
    (manifests / "app.yaml").write_text(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\n"
        "spec:\n  selector: {matchLabels: {app: web}}\n  template:\n    metadata: {labels: {app: web}}\n"
        "    spec:\n      containers:\n      - {name: web, image: '${image:app}'}\n"
        "---\napiVersion: v1\nkind: Namespace\nmetadata: {name: shop}\n"
        "---\napiVersion: v1\nkind: Service\nmetadata: {name: web}\nspec:\n  selector: {app: web}\n  ports: [{port: 80}]\n"
    )
    commit_all(repo, "web")
    return load_manifests(manifests, manifests, default_namespace="shop")


def test_one_config_group_gets_every_object_rendered_with_the_image_and_commit(loaded):
    mocks = run_program(
        lambda: Workloads("workloads", WorkloadsArgs(objects=loaded.objects, images={"app": DIGEST_REF})),
        "local",
        {},
    ).mocks
    objects = reveal(mocks.one("kubernetes:yaml/v2:ConfigGroup").inputs["objs"])
    deployment = next(o for o in objects if o["kind"] == "Deployment")

    assert [o["kind"] for o in objects] == [o.body["kind"] for o in loaded.objects]
    assert deployment["spec"]["template"]["spec"]["containers"][0]["image"] == DIGEST_REF
    assert deployment["metadata"]["namespace"] == "shop"
    assert {o["metadata"]["labels"]["pulumi-gitops.dev/commit"] for o in objects} == {loaded.commit}


def test_awaits_reach_the_objects_as_the_providers_skip_await(loaded):
    def skipped(awaits):
        mocks = run_program(
            lambda: Workloads("workloads", WorkloadsArgs(objects=loaded.objects, images={"app": DIGEST_REF}, awaits=awaits)),
            "local",
            {},
        ).mocks
        objects = reveal(mocks.one("kubernetes:yaml/v2:ConfigGroup").inputs["objs"])
        return {o["kind"] for o in objects if o["metadata"].get("annotations", {}).get("pulumi.com/skipAwait") == "true"}

    assert skipped("kstatus") == {"Service"}
    assert skipped("provider") == set()
    assert skipped("none") == {"Deployment", "Namespace", "Service"}


def test_the_config_group_uses_the_provider_given_to_the_component(loaded):
    import pulumi
    import pulumi_kubernetes as k8s

    def program():
        provider = k8s.Provider("target", kubeconfig="{}")
        Workloads(
            "workloads",
            WorkloadsArgs(objects=loaded.objects, images={"app": DIGEST_REF}),
            opts=pulumi.ResourceOptions(providers={"kubernetes": provider}),
        )

    run = run_program(program, "local", {})
    group = run.mocks.one("kubernetes:yaml/v2:ConfigGroup")
    assert group.name == "workloads-manifests"
