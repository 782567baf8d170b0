"""Pull request previews against the real engine, the real local cluster and a recording GitHub.

One service repository is deployed once; each test opens a pull request on it
(a commit stored at refs/pull/N/head, as GitHub stores it) and previews it with
`python -m reconciler preview --post`, or through the service's webhook.
Nothing a preview does may reach the cluster.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import subprocess
import textwrap
from pathlib import Path
from typing import Any, Optional

import pytest

from testsupport.fake_github import FakeGitHub, serve_fake_github
from testsupport.reconciler_cluster import PASSPHRASE_ENV, REGISTRY_PASSWORD_ENV, ClusterRepo, manifests
from testsupport.reconciler_testing import free_port, git, run_cli, write_config

pytestmark = pytest.mark.e2e
OWNER, REPO = "example", "web"
REGISTRY_PASSWORD = "e2e-registry-password-7f3a9c"
WEBHOOK_SECRET = "e2e-preview-webhook-secret"
SECOND = "pr-e2e-second"


class PreviewScenario:
    def __init__(self, root: Path, repo: ClusterRepo, env: dict[str, str], github: FakeGitHub) -> None:
        self.root = root
        self.repo = repo
        self.env = env
        self.github = github
        self.state_dir = root / "reconciler-state"

    def config(self, port: int = 0, second_stack: bool = True) -> Path:
        # The service is never given the second stack: it would deploy it over the first one's objects.
        stacks = [self.repo.stack_entry(), *([self.repo.stack_entry(name=SECOND, stack="local2")] if second_stack else [])]
        return write_config(
            self.root / f"reconciler{'' if second_stack else '-service'}.yaml", stacks, state_dir=str(self.state_dir),
            listen=f"127.0.0.1:{port}", log_format="json", github={"api_url": self.github.url},
            webhook={"secret": {"env": "RECONCILER_E2E_WEBHOOK_SECRET"}},
        )

    def open_pull_request(self, number: int, message: str, files: dict[str, Optional[str]]) -> str:
        """A commit on the pull request's branch (made from main the first time), pushed as refs/pull/N/head."""
        clone = self.repo.remote.clone
        branch = f"pr-{number}"
        exists = subprocess.run(["git", "rev-parse", "--verify", "--quiet", branch], cwd=clone, capture_output=True).returncode == 0
        git("checkout", "--quiet", branch if exists else "-b", *([] if exists else [branch, "main"]), cwd=clone)
        try:
            head = self.repo.remote.commit(message, files, push=False)
            git("push", "--quiet", "--force", str(self.repo.remote.bare), f"HEAD:refs/pull/{number}/head", cwd=clone)
        finally:
            git("checkout", "--quiet", "main", cwd=clone)
        self.github.add_pull(OWNER, REPO, number)
        return head

    def preview(self, number: int, stack: Optional[str] = None, output_format: str = "json") -> subprocess.CompletedProcess:
        return run_cli(
            "preview", "--config", str(self.config()), "--stack", stack or self.repo.name, "--ref", f"refs/pull/{number}/head",
            "--base", "main", "--format", output_format, "--post", "--pull-request", f"{OWNER}/{REPO}#{number}",
            env=self.env, timeout=600,
        )

    def comments(self, number: int) -> list[dict[str, Any]]:
        return self.github.comments_on(OWNER, REPO, number)


@pytest.fixture(scope="module")
def scenario(local_env, engine_env, tmp_path_factory):
    root = tmp_path_factory.mktemp("pull-request-previews")
    repo = ClusterRepo(root, "pr-e2e", local_env)
    with serve_fake_github() as github:
        env = {**engine_env, **local_env, PASSPHRASE_ENV: "e2e-passphrase", REGISTRY_PASSWORD_ENV: REGISTRY_PASSWORD,
               "GITHUB_TOKEN": github.token, "RECONCILER_E2E_WEBHOOK_SECRET": WEBHOOK_SECRET}
        scenario = PreviewScenario(root, repo, env, github)
        # A second stack of the same program: its own stack file, and state in the same backend (empty).
        stack_file = (repo.remote.clone / "Pulumi.local.yaml").read_text()
        repo.remote.commit("a second stack", {"Pulumi.local2.yaml": stack_file})
        repo.backend.mkdir(parents=True, exist_ok=True)
        init = subprocess.run(["pulumi", "stack", "init", "local2", "--non-interactive"], cwd=repo.remote.clone, text=True,
                              capture_output=True, env={**env, "PULUMI_BACKEND_URL": f"file://{repo.backend}",
                                                        "PULUMI_CONFIG_PASSPHRASE": env[PASSPHRASE_ENV]})
        assert init.returncode == 0, init.stderr
        git("checkout", "--quiet", "--", "Pulumi.local2.yaml", cwd=repo.remote.clone)
        deployed = run_cli("once", "--config", str(scenario.config()), "--stack", repo.name, "--json", env=env, timeout=900)
        assert deployed.returncode == 0, deployed.stdout + deployed.stderr[-3000:]
        yield scenario
    repo.delete_namespace()


def replicas(count: int) -> str:
    return manifests("unused")["manifests/deployment.yaml"].replace("replicas: 1", f"replicas: {count}")


def test_replicas_changed_and_a_config_map_deleted_give_one_update_and_one_delete_flagged_at_the_top(scenario):
    repo = scenario.repo
    head = scenario.open_pull_request(7, "scale up, drop extra-0",
                                      {"manifests/deployment.yaml": replicas(2), "manifests/extra-0.yaml": None})

    result = scenario.preview(7)

    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout)
    changed = {(r["operation"], r["type"], r["name"]) for r in report["resources"]}
    assert changed == {
        ("update", "kubernetes:apps/v1:Deployment", f"workloads-manifests:{repo.namespace}/web"),
        ("delete", "kubernetes:core/v1:ConfigMap", f"workloads-manifests:{repo.namespace}/extra-0"),
    }
    update = next(r for r in report["resources"] if r["operation"] == "update")
    assert "spec.replicas" in update["changed_properties"]
    assert (report["commit"], report["result"]) == (head, "previewed")
    assert report["changes"]["update"] == 1 and report["changes"]["delete"] == 1 and report["changes"]["create"] == 0

    [comment] = scenario.comments(7)
    body = comment["body"]
    assert body.startswith(f"<!-- pulumi-gitops-preview stack={repo.name} -->")
    assert f"commit `{head[:7]}`" in body
    assert "0 to create · 1 to update · 0 to replace · 1 to delete" in body
    warning, table = body.index("[!WARNING]"), body.index("| Type | Name |")
    assert warning < table and "extra-0" in body[warning:table], "the delete is called out above the table"
    assert "`spec.replicas`" in body
    assert repo.get("deployment", "web")["spec"]["replicas"] == 1 and repo.get("configmap", "extra-0") is not None, \
        "a preview changes nothing"


def test_a_second_push_to_the_pull_request_edits_the_same_comment(scenario):
    [first] = scenario.comments(7)
    head = scenario.open_pull_request(7, "scale further", {"manifests/deployment.yaml": replicas(3)})
    requests_before = len(scenario.github.requests)

    result = scenario.preview(7)

    assert result.returncode == 0, result.stderr[-3000:]
    [edited] = scenario.comments(7)
    assert edited["id"] == first["id"] and f"commit `{head[:7]}`" in edited["body"]
    assert "replicas: 1 => 3" in edited["body"], "compared with the stack's state, not with the previous push"
    calls = [(r.method, r.path) for r in scenario.github.requests[requests_before:]]
    # Who the token is first: only our own account's comment is edited.
    assert calls == [("GET", "/user"), ("GET", f"/repos/{OWNER}/{REPO}/issues/7/comments"),
                     ("PATCH", f"/repos/{OWNER}/{REPO}/issues/comments/{first['id']}")]


def test_a_second_stack_gets_its_own_comment_and_leaves_the_first_alone(scenario):
    [before] = scenario.comments(7)

    result = scenario.preview(7, stack=SECOND, output_format="markdown")

    assert result.returncode == 0, result.stderr[-3000:]
    comments = scenario.comments(7)
    assert len(comments) == 2
    first, second = comments
    assert first == before, "the first stack's comment is untouched"
    assert second["body"].startswith(f"<!-- pulumi-gitops-preview stack={SECOND} -->")
    assert f"stack `{SECOND}`" in second["body"] and "to create" in second["body"]
    assert result.stdout == second["body"] + "\n"


def test_a_secret_config_value_never_appears_even_when_a_manifest_holds_it(scenario):
    leak = textwrap.dedent(f"""\
        apiVersion: v1
        kind: ConfigMap
        metadata:
          name: leaky
        data:
          password: {REGISTRY_PASSWORD}
        """)
    scenario.open_pull_request(8, "a config map holding the registry password", {"manifests/leaky.yaml": leak})

    result = scenario.preview(8, output_format="markdown")

    assert result.returncode == 0, result.stderr[-3000:]
    [comment] = scenario.comments(8)
    assert "leaky" in comment["body"] and "[secret]" in comment["body"]
    for text in (comment["body"], result.stdout, result.stderr):
        assert REGISTRY_PASSWORD not in text


def test_a_secret_placeholder_from_encrypted_config_never_appears_in_the_comment(scenario):
    """A Secret manifest says ${secret:db-password}; the value is in the pull request's stack file, encrypted."""
    value = "pr-e2e-placeholder-value-51c7"
    clone, stack_file = scenario.repo.remote.clone, scenario.repo.remote.clone / "Pulumi.local.yaml"
    env = {**scenario.env, "PULUMI_BACKEND_URL": f"file://{scenario.repo.backend}", "PULUMI_CONFIG_PASSPHRASE": scenario.env[PASSPHRASE_ENV]}
    exported = subprocess.run(["pulumi", "stack", "export", "--stack", "local", "--non-interactive"], cwd=clone, env=env,
                              capture_output=True, text=True, check=True)
    salt = json.loads(exported.stdout)["deployment"]["secrets_providers"]["state"]["salt"]
    committed = stack_file.read_text()
    try:
        stack_file.write_text(f"encryptionsalt: {salt}\n" + committed)
        subprocess.run(["pulumi", "config", "set", "--secret", "--path", "pulumi-gitops:secrets.db-password", value, "--stack", "local",
                        "--non-interactive"], cwd=clone, env=env, capture_output=True, text=True, check=True)
        encrypted = stack_file.read_text()
    finally:
        stack_file.write_text(committed)
    secret = "apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\ndata:\n  password: ${secret:db-password}\n"
    scenario.open_pull_request(12, "a Secret from encrypted config", {"Pulumi.local.yaml": encrypted, "manifests/db-secret.yaml": secret})

    result = scenario.preview(12, output_format="markdown")

    assert result.returncode == 0, result.stderr[-3000:]
    [comment] = scenario.comments(12)
    assert "db" in comment["body"] and value not in encrypted
    for text in (comment["body"], result.stdout, result.stderr):
        for form in (value, base64.b64encode(value.encode()).decode()):
            assert form not in text


def test_a_diff_over_70000_characters_is_cut_with_a_note(scenario):
    data = "\n".join(f"  key-{index:04d}: {'x' * 90}" for index in range(800))
    big = f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: big\ndata:\n{data}\n"
    scenario.open_pull_request(9, "a big config map", {"manifests/big.yaml": big})

    result = scenario.preview(9)

    assert result.returncode == 0, result.stderr[-3000:]
    assert len(json.loads(result.stdout)["diff"]) > 70_000, "the engine's diff itself is that long"
    [comment] = scenario.comments(9)
    assert len(comment["body"]) <= 60_000
    assert "Cut to fit GitHub's comment limit:** diff truncated:" in comment["body"]
    assert "workloads-manifests:pr-e2e/big" in comment["body"], "the table still lists the change"


def test_a_broken_manifest_gives_a_failed_preview_comment_naming_the_file(scenario):
    scenario.open_pull_request(10, "a manifest without a name",
                               {"manifests/broken.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  labels: {}\n"})

    result = scenario.preview(10, output_format="markdown")

    assert result.returncode == 1
    [comment] = scenario.comments(10)
    assert "### Pulumi preview failed" in comment["body"]
    assert "manifests/broken.yaml" in comment["body"] and "metadata.name" in comment["body"]


def signed(body: bytes) -> dict[str, str]:
    digest = hmac.new(WEBHOOK_SECRET.encode(), body, hashlib.sha256).hexdigest()
    return {"X-GitHub-Event": "pull_request", "X-Hub-Signature-256": f"sha256={digest}", "Content-Type": "application/json"}


def test_a_pull_request_webhook_previews_the_stack_on_its_base_branch_and_applies_nothing(scenario, start_service):
    repo = scenario.repo
    head = scenario.open_pull_request(11, "scale to five", {"manifests/deployment.yaml": replicas(5)})
    port = free_port()
    service = start_service(scenario.config(port=port, second_stack=False), scenario.env, port)
    service.wait_until(lambda: service.stack(repo.name)["last_applied_commit"], 300, "the service's first pass")
    applied = service.stack(repo.name)["last_applied_commit"]
    payload = {
        "action": "opened",
        "number": 11,
        "pull_request": {"number": 11, "author_association": "MEMBER", "head": {"sha": head, "ref": "pr-11", "repo": {"full_name": f"{OWNER}/{REPO}"}},
                         "base": {"sha": applied, "ref": "main", "repo": {"full_name": f"{OWNER}/{REPO}"}}},
        "repository": {"full_name": f"{OWNER}/{REPO}", "clone_url": str(repo.remote.bare)},
    }
    body = json.dumps(payload).encode()

    status, answer = service.post("/hooks/github", body, signed(body))

    assert status == 202 and json.loads(answer) == {"previewing": [repo.name], "because": "its author is a member"}
    service.wait_until(lambda: scenario.comments(11), 300, "the preview comment")
    [comment] = scenario.comments(11)
    assert comment["body"].startswith(f"<!-- pulumi-gitops-preview stack={repo.name} -->")
    assert f"commit `{head[:7]}` (base `{applied[:7]}`)" in comment["body"] and "replicas: 1 => 5" in comment["body"]
    counted = f'reconciler_pull_request_previews_total{{result="previewed",stack="{repo.name}"}} 1.0'
    # The count follows the post by a moment.
    service.wait_until(lambda: counted in service.get("/metrics")[1].decode(), 30, "the preview counted")
    assert service.stack(repo.name)["last_applied_commit"] == applied, "a pull request is never applied"
    assert repo.get("deployment", "web")["spec"]["replicas"] == 1
    assert service.stop() == 0
