"""`pulumi up` on a platform of 100 objects: every kind of the scale benchmark, changed and pruned in Git.

After each run the API server must hold exactly the objects Git holds: listed
by the managed-by label and by namespace, nothing missing, nothing left over.
The tests run in order on one stack, as a user's commits would. Not timed:
bench/scale_compare.py measures.
"""


import pytest

from manifest_loader import MANAGED_BY_LABEL, MANAGER_NAME
from testsupport.local_project import LocalProject
from testsupport.scale_cluster import BenchNode, Kubectl, live_objects, objects_in_namespaces
from testsupport.scale_manifests import SET_LABEL, ManifestSet

pytestmark = pytest.mark.e2e

SIZE = 100


class Platform:
    """The stack, the set Git holds at HEAD, and what the cluster should hold."""

    def __init__(self, project: LocalProject, kubectl: Kubectl, manifest_set: ManifestSet) -> None:
        self.project, self.kubectl, self.set = project, kubectl, manifest_set
        self.all_namespaces = list(manifest_set.namespaces)  # every namespace the set ever had

    @property
    def selector(self) -> str:
        return f"{SET_LABEL}={self.set.prefix},{MANAGED_BY_LABEL}={MANAGER_NAME}"

    def commit(self, manifest_set: ManifestSet, message: str) -> None:
        self.set = manifest_set
        manifest_set.write(self.project.root / "manifests")
        self.project.commit(message)

    def assert_cluster_holds_exactly_the_set(self) -> None:
        expected = self.set.expected()
        assert live_objects(self.kubectl, self.set, self.selector) == expected
        namespaced = {
            resource: {key for key in keys if key[0]} for resource, keys in expected.items() if any(k[0] for k in keys)
        }
        assert objects_in_namespaces(self.kubectl, self.set, self.all_namespaces) == namespaced

    def revisions(self, resource: str) -> dict[tuple[str, str], str]:
        """(namespace, name) to the revision the live object carries (ConfigMaps and Deployments)."""
        found = {}
        for item in self.kubectl.items(resource, "--all-namespaces", "--selector", self.selector):
            if item["kind"] == "ConfigMap":
                revision = item["data"]["REVISION"]
            else:
                env = item["spec"]["template"]["spec"]["containers"][0]["env"]
                revision = next(e["value"] for e in env if e["name"] == "REVISION")
            found[(item["metadata"]["namespace"], item["metadata"]["name"])] = revision
        return found

    def expected_revisions(self, kind: str) -> dict[tuple[str, str], str]:
        return {(o.namespace, o.name): f"r{o.revision}" for o in self.set.objects if o.kind == kind}


@pytest.fixture(scope="module")
def platform(local_env, tmp_path_factory):
    root = tmp_path_factory.mktemp("scale") / "service"
    project = LocalProject.create(root, local_env)
    kubectl = Kubectl(local_env["KUBECONFIG"])
    # A node of its own keeps the set's 15 pods off the shared node (and other stacks' pods off this one).
    prefix = f"sc{project.namespace.removeprefix('e2e-')[-8:]}"
    node = BenchNode(kubectl, f"{prefix}-node", pods=200)
    node.create()
    platform = Platform(project, kubectl, ManifestSet.generate(SIZE, prefix, node=node.name))
    try:
        yield platform
    finally:
        destroyed = project.destroy()
        left = live_objects(kubectl, platform.set, platform.selector)
        node.delete()
        assert destroyed.returncode == 0, destroyed.output
        assert not any(left.values()), f"left after destroy: {left}"


def test_first_up_applies_every_object(platform):
    platform.commit(platform.set, "a platform of 100 objects")

    result = platform.project.up()

    assert result.returncode == 0, result.output
    platform.assert_cluster_holds_exactly_the_set()
    assert len(platform.project.outputs()["objects"]) == SIZE
    for deployment in platform.kubectl.items("deployments.apps", "--all-namespaces", "--selector", platform.selector):
        assert deployment["status"].get("availableReplicas") == 1, deployment["metadata"]["name"]


def test_a_second_up_reports_no_changes(platform):
    result = platform.project.up("--expect-no-changes")

    assert result.returncode == 0, result.output


def test_drift_in_the_cluster_is_seen_and_undone_by_an_up_with_refresh(platform):
    namespace, name = next((o.namespace, o.name) for o in platform.set.objects if o.kind == "ConfigMap")
    platform.kubectl.run("patch", "configmap", name, "--namespace", namespace, "--type", "merge",
                         "--patch", '{"data": {"REVISION": "edited by hand"}}')

    preview = platform.project.pulumi("preview", "--stack", "local", "--refresh", "--diff")
    result = platform.project.up("--refresh")

    assert preview.returncode == 0 and name in preview.output and "edited by hand" in preview.output, preview.output
    assert result.returncode == 0, result.output
    assert platform.revisions("configmaps")[(namespace, name)] == "r0"


def test_a_commit_changing_and_removing_ten_percent_updates_and_prunes_exactly_those(platform):
    before = platform.set
    platform.commit(before.with_changes(0.1).without(0.1), "10% changed, 10% removed")
    changed, removed = before.diff(platform.set)

    result = platform.project.up()

    assert (changed, removed) == (10, 10)
    assert result.returncode == 0, result.output
    platform.assert_cluster_holds_exactly_the_set()
    assert platform.revisions("configmaps") == platform.expected_revisions("ConfigMap")
    assert platform.revisions("deployments.apps") == platform.expected_revisions("Deployment")
    assert "r1" in platform.expected_revisions("Deployment").values()


def test_removing_a_whole_namespace_deletes_it_and_everything_in_it(platform):
    gone = platform.set.namespaces[-1]
    remaining = [o for o in platform.set.objects if o.namespace != gone and not (o.kind == "Namespace" and o.name == gone)]
    platform.commit(ManifestSet(platform.set.prefix, tuple(remaining), platform.set.node), f"tenant {gone} removed")

    result = platform.project.up()

    assert result.returncode == 0, result.output
    platform.assert_cluster_holds_exactly_the_set()
    assert platform.kubectl.run("get", "namespace", gone, check=False).returncode != 0
