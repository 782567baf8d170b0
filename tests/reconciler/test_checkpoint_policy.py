"""Which updates run without checkpoints, what a recovery sweep calls an orphan, and the label it finds objects by.

The kill tests on the real engine and cluster are in test_checkpoint_kills.py.
"""

from __future__ import annotations

import gzip
import json
import re
import subprocess
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Optional

import pytest

from components.workloads import Workloads, WorkloadsArgs
from manifest_loader import load_manifests
from manifest_loader.stamping import STACK_LABEL, stack_label_value, stamp_stack
from reconciler.engine.checkpoints import SKIP_CHECKPOINTS, checkpoints_for_up, last_state_resources, skips_checkpoints
from reconciler.engine.inventory_sweep import LiveObject, judge, state_identities
from testsupport.git_repos import commit_all, init_repo
from testsupport.pulumi_mocks import reveal, run_program

PROVIDER = {"type": "pulumi:providers:kubernetes", "custom": True}
STACK = {"type": "pulumi:pulumi:Stack", "custom": False}
COMPONENT = {"type": "pulumi-gitops:workloads:Workloads", "custom": False}
IMAGE = {"type": "docker-build:index:Image", "custom": True}


def config_map(name: str, namespace: str = "apps") -> dict[str, Any]:
    return {"type": "kubernetes:core/v1:ConfigMap", "custom": True,
            "outputs": {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": namespace}}}


KUBERNETES_ONLY = [STACK, COMPONENT, PROVIDER, IMAGE, config_map("a")]


@pytest.mark.parametrize("extra, expected", [
    ([], True),
    ([{"type": "aws:s3/bucket:Bucket", "custom": True}], False),
    ([{"type": "aws:ecr/repository:Repository", "custom": True}], False),
    ([{"type": "kubernetes:helm.sh/v3:Release", "custom": True}], False),
    # a unit stack's reference to its parent stack: a read
    ([{"type": "pulumi:pulumi:StackReference", "custom": True, "external": True}], True),
    ([{"type": "aws:s3/bucket:Bucket", "custom": True, "external": True}], True),
])
def test_auto_skips_only_for_a_state_of_kubernetes_objects(extra, expected):
    assert skips_checkpoints("auto", KUBERNETES_ONLY + extra, can_sweep=True) is expected


def test_auto_keeps_checkpoints_on_a_first_run_and_without_a_cluster_to_sweep():
    assert skips_checkpoints("auto", [], can_sweep=True) is False
    assert skips_checkpoints("auto", [STACK, PROVIDER, IMAGE], can_sweep=True) is False, "no object yet"
    assert skips_checkpoints("auto", KUBERNETES_ONLY, can_sweep=False) is False


def test_a_unit_stack_skips_them_from_its_first_run_but_never_for_a_state_holding_more():
    assert skips_checkpoints("auto", [], can_sweep=True, unit=True) is True
    assert skips_checkpoints("auto", KUBERNETES_ONLY, can_sweep=True, unit=True) is True
    assert skips_checkpoints("auto", [], can_sweep=False, unit=True) is False, "nothing could sweep what it left"
    bucket = [*KUBERNETES_ONLY, {"type": "aws:s3/bucket:Bucket", "custom": True}]
    assert skips_checkpoints("auto", bucket, can_sweep=True, unit=True) is False


def test_always_and_skip_are_what_they_say_whatever_the_state():
    bucket = [*KUBERNETES_ONLY, {"type": "aws:s3/bucket:Bucket", "custom": True}]
    assert skips_checkpoints("always", KUBERNETES_ONLY, can_sweep=True) is False
    assert skips_checkpoints("skip", bucket, can_sweep=False) is True


def write_state(backend: Path, project: str, stack: str, resources: list, gzipped: bool = False) -> Path:
    folder = backend / ".pulumi" / "stacks" / project
    folder.mkdir(parents=True)
    text = json.dumps({"version": 3, "checkpoint": {"stack": stack, "latest": {"resources": resources}}})
    path = folder / (f"{stack}.json.gz" if gzipped else f"{stack}.json")
    path.write_bytes(gzip.compress(text.encode()) if gzipped else text.encode())
    return path


def file_session(backend: Path, stack: str = "dev", mode: str = "auto", env: tuple = (), events: Any = "cluster") -> Any:
    workspace = SimpleNamespace(env_vars={}, project_settings=lambda: SimpleNamespace(name="shop"))
    spec = SimpleNamespace(name="shop-dev", backend_url=f"file://{backend}", stack=stack, checkpoints=mode, env=env, events=events,
                           unit=None)
    return SimpleNamespace(spec=spec, stack=SimpleNamespace(workspace=workspace))


@pytest.mark.parametrize("gzipped", [False, True])
def test_the_last_state_is_read_from_the_file_backend_without_the_cli(tmp_path, gzipped):
    write_state(tmp_path, "shop", "dev", KUBERNETES_ONLY, gzipped)

    assert last_state_resources(file_session(tmp_path)) == KUBERNETES_ONLY
    assert last_state_resources(file_session(tmp_path, stack="organization/prod")) == [], "no such stack yet"


def test_an_up_gets_the_variable_only_while_it_runs_and_a_stacks_own_env_wins(tmp_path):
    write_state(tmp_path, "shop", "dev", KUBERNETES_ONLY)
    session = file_session(tmp_path)
    with checkpoints_for_up(session) as skipped:
        assert skipped and session.stack.workspace.env_vars[SKIP_CHECKPOINTS] == "true"
    assert SKIP_CHECKPOINTS not in session.stack.workspace.env_vars

    own = file_session(tmp_path, env=((SKIP_CHECKPOINTS, "false"),))
    with checkpoints_for_up(own) as skipped:
        assert not skipped and SKIP_CHECKPOINTS not in own.stack.workspace.env_vars
    no_cluster = file_session(tmp_path, events=None)
    with checkpoints_for_up(no_cluster) as skipped:
        assert not skipped


def test_the_stack_label_is_a_valid_label_value_and_tells_stacks_apart():
    valid = re.compile(r"[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?")
    assert stack_label_value("pulumi-gitops", "organization/local") == "pulumi-gitops.local"
    long_ones = {stack_label_value("a-platform-with-a-long-name", f"review-{'x' * 40}-{n}") for n in range(3)}
    assert len(long_ones) == 3 and all(valid.fullmatch(value) for value in long_ones)
    body = {"metadata": {"name": "web", "labels": {"app": "web"}}}
    stamp_stack(body, "shop.dev")
    assert body["metadata"]["labels"] == {"app": "web", STACK_LABEL: "shop.dev"}


def test_the_state_holds_objects_by_identity_from_their_outputs():
    namespace = {"type": "kubernetes:core/v1:Namespace", "custom": True,
                 "outputs": {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "apps"}}}
    deployment = {"type": "kubernetes:apps/v1:Deployment", "custom": True,
                  "outputs": {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": "apps"}}}
    assert state_identities([STACK, PROVIDER, namespace, deployment, config_map("a")]) == {
        ("", "Namespace", "", "apps"), ("apps", "Deployment", "apps", "web"), ("", "ConfigMap", "apps", "a"),
    }


class Repo:
    """A real Git repository and the `file_at` the reconciler's workspace answers with (git cat-file)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.git("init", "--quiet", "--initial-branch=main")

    def git(self, *args: str) -> str:
        return subprocess.run(["git", "-c", "user.name=T", "-c", "user.email=t@example.com", *args], cwd=self.root,
                              check=True, capture_output=True, text=True).stdout.strip()

    def commit(self, files: dict[str, Optional[str]]) -> str:
        for name, text in files.items():
            if text is None:
                self.git("rm", "--quiet", name)
            else:
                (self.root / name).parent.mkdir(parents=True, exist_ok=True)
                (self.root / name).write_text(text)
                self.git("add", name)
        self.git("commit", "--quiet", "-m", "change")
        return self.git("rev-parse", "HEAD")

    def file_at(self, commit: str, path: str) -> Optional[str]:
        done = subprocess.run(["git", "cat-file", "blob", f"{commit}:{path}"], cwd=self.root, capture_output=True, text=True)
        return done.stdout if done.returncode == 0 else None


def live(name: str, commit: str, path: str = "manifests/config.yaml", namespace: str = "apps") -> LiveObject:
    return LiveObject(f"/api/v1/namespaces/{namespace}/configmaps/{name}", ("", "ConfigMap", namespace, name), commit, f"{path}#0")


def cm(name: str, namespace: Optional[str] = None) -> str:
    where = f"\n  namespace: {namespace}" if namespace else ""
    return f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}{where}\ndata: {{}}\n"


def test_the_sweep_deletes_only_what_this_repository_declared_and_its_head_no_longer_does(tmp_path):
    repo = Repo(tmp_path)
    first = repo.commit({"manifests/config.yaml": cm("a"), "manifests/b.yaml": cm("b", "apps")})
    head = repo.commit({"manifests/b.yaml": None})

    assert judge(live("a", first), repo.file_at, head) == "adopt", "declared at the head (namespace defaulted)"
    assert judge(live("b", first, "manifests/b.yaml"), repo.file_at, head) == "orphan"
    assert judge(live("b", first, "manifests/b.yaml", namespace="other"), repo.file_at, head) == "foreign"
    assert judge(live("a", "f" * 40), repo.file_at, head) == "foreign", "a namesake stack's object, from another repository"
    assert judge(live("z", first), repo.file_at, head) == "foreign", "its file never declared it"


def test_every_object_the_workloads_deploy_carries_its_stacks_label(tmp_path):
    repo = init_repo(tmp_path / "svc")
    manifests = tmp_path / "svc" / "manifests"
    manifests.mkdir()
    (manifests / "app.yaml").write_text(cm("web") + "---\napiVersion: v1\nkind: Namespace\nmetadata: {name: shop}\n")
    commit_all(repo, "web")
    loaded = load_manifests(manifests, manifests, default_namespace="shop")

    mocks = run_program(lambda: Workloads("workloads", WorkloadsArgs(objects=loaded.objects)), "review-7", {}).mocks
    objects = reveal(mocks.one("kubernetes:yaml/v2:ConfigGroup").inputs["objs"])

    assert [o["metadata"]["labels"][STACK_LABEL] for o in objects] == ["pulumi-gitops.review-7"] * 2
