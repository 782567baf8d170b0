"""The reconciler against the real engine and the real local cluster, with this project's own program.

One service repository (a bare remote on disk, commits pushed from a clone)
is reconciled through the scenarios in order, as its history would unfold;
each test starts from where the previous one left the stack.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from pathlib import Path
from typing import Any

import pytest

from testsupport.reconciler_cluster import PASSPHRASE_ENV, REGISTRY_PASSWORD_ENV, ClusterRepo, manifests
from testsupport.reconciler_testing import free_port, json_lines, run_cli, write_config

pytestmark = pytest.mark.e2e
WEBHOOK_SECRET = "e2e-webhook-secret"


class Scenario:
    def __init__(self, root: Path, repo: ClusterRepo, env: dict[str, str]) -> None:
        self.root = root
        self.repo = repo
        self.env = env
        self.state_dir = root / "reconciler-state"

    def config(self, name: str = "reconciler.yaml", port: int = 0, **stack: Any) -> Path:
        return write_config(
            self.root / name, [self.repo.stack_entry(**stack)], state_dir=str(self.state_dir),
            listen=f"127.0.0.1:{port}", webhook={"secret": {"env": "RECONCILER_E2E_WEBHOOK_SECRET"}}, log_format="json",
        )

    def once(self, **stack: Any) -> tuple[int, dict[str, Any]]:
        result = run_cli("once", "--config", str(self.config(**stack)), "--json", env=self.env, timeout=900)
        lines = json_lines(result.stdout)
        assert len(lines) == 1, result.stdout + result.stderr[-3000:]
        return result.returncode, lines[0]

    def status(self) -> dict[str, Any]:
        return json_lines(run_cli("status", "--config", str(self.config()), "--json", env=self.env).stdout)[0]


@pytest.fixture(scope="module")
def scenario(local_env, engine_env, tmp_path_factory):
    root = tmp_path_factory.mktemp("reconciler-cluster")
    repo = ClusterRepo(root, "rec-e2e", local_env)
    env = {**engine_env, **local_env, PASSPHRASE_ENV: "e2e-passphrase", REGISTRY_PASSWORD_ENV: "e2e-registry-password",
           "RECONCILER_E2E_WEBHOOK_SECRET": WEBHOOK_SECRET}
    yield Scenario(root, repo, env)
    repo.delete_namespace()


def signed(body: bytes) -> dict[str, str]:
    return {"X-GitHub-Event": "push", "X-Hub-Signature-256": "sha256=" + hmac.new(WEBHOOK_SECRET.encode(), body, hashlib.sha256).hexdigest()}


def test_the_service_applies_the_first_commit_and_then_a_manifest_change_within_one_poll(scenario, start_service):
    repo = scenario.repo
    port = free_port()
    service = start_service(scenario.config(port=port, resync_interval="3s"), scenario.env, port)
    service.wait_until(lambda: service.stack(repo.name)["last_applied_commit"] == repo.first_commit, 600, "the first apply")
    assert repo.greeting() == "hello from git" and repo.commit_label() == repo.first_commit
    deployment = repo.get("deployment", "web")
    assert "@sha256:" in deployment["spec"]["template"]["spec"]["containers"][0]["image"]

    pushed_at = time.monotonic()
    change = repo.remote.commit("greeting changed", manifests(repo.namespace, greeting="changed in git"))
    service.wait_until(lambda: service.stack(repo.name)["last_applied_commit"] == change, 300, "the change applied")
    latency = time.monotonic() - pushed_at

    entry = service.stack(repo.name)
    assert repo.greeting() == "changed in git" and entry["last_run"]["trigger"] == "poll"
    assert latency <= 3 + entry["last_run"]["duration_s"] + 5, f"applied {latency:.1f}s after the push"
    assert repo.commit_label() == change, "each object is stamped with the last commit of its file"
    assert service.stop() == 0


def test_a_webhook_push_is_applied_without_waiting_for_the_poll_and_a_forged_one_runs_nothing(scenario, start_service):
    repo = scenario.repo
    port = free_port()
    service = start_service(scenario.config(port=port, resync_interval="1h"), scenario.env, port)
    service.wait_until(lambda: service.get("/readyz")[0] == 200, 60, "readiness")
    before = service.stack(repo.name)["last_run"]["id"]
    change = repo.remote.commit("greeting by webhook", manifests(repo.namespace, greeting="pushed with a webhook"))
    body = json.dumps({"ref": "refs/heads/main", "after": change, "repository": {"clone_url": str(repo.remote.bare)}}).encode()

    forged = service.post("/hooks/github", body, {**signed(body), "X-Hub-Signature-256": "sha256=" + "f" * 64})
    unsigned = service.post("/hooks/github", body, {"X-GitHub-Event": "push"})
    time.sleep(5)
    assert forged[0] == unsigned[0] == 401
    assert service.stack(repo.name)["last_run"]["id"] == before and repo.greeting() == "changed in git"

    sent_at = time.monotonic()
    accepted = service.post("/hooks/github", body, signed(body))
    service.wait_until(lambda: service.stack(repo.name)["last_applied_commit"] == change, 300, "the webhook's commit applied")

    assert accepted[0] == 202 and json.loads(accepted[1]) == {"triggered": [repo.name]}
    entry = service.stack(repo.name)
    assert repo.greeting() == "pushed with a webhook" and entry["last_run"]["trigger"] == "webhook"
    assert time.monotonic() - sent_at < 300, "long before the hourly poll"
    assert service.stop() == 0


def test_a_broken_manifest_fails_naming_the_file_the_cluster_keeps_the_last_good_state_and_the_next_commit_recovers(scenario):
    repo = scenario.repo
    good_label = repo.commit_label()
    broken_files = manifests(repo.namespace, greeting="must not be applied")
    broken_files["manifests/broken.yaml"] = "apiVersion: v1\nkind: Secret\nmetadata:\n  labels: {}\n"
    repo.remote.commit("a good change and a broken manifest", broken_files)

    code, failed = scenario.once()
    assert code == 1 and failed["result"] == "failed"
    assert "manifests/broken.yaml" in failed["error"] and "metadata.name" in failed["error"]
    assert repo.greeting() == "pushed with a webhook" and repo.commit_label() == good_label

    fixed = repo.remote.commit("fix the broken manifest", {"manifests/broken.yaml": None})
    code, recovered = scenario.once()
    assert (code, recovered["result"], recovered["commit"]) == (0, "applied", fixed)
    assert repo.greeting() == "must not be applied"
    assert repo.commit_label() == repo.remote.last_change("manifests/configmap.yaml")


def test_a_force_push_to_an_older_commit_is_applied(scenario):
    repo = scenario.repo
    older = scenario.status()["last_applied_commit"]
    repo.remote.commit("a greeting to be undone", manifests(repo.namespace, greeting="undone soon"))
    assert scenario.once()[1]["result"] == "applied" and repo.greeting() == "undone soon"

    repo.remote.reset_and_force_push(older)
    code, line = scenario.once()

    assert (code, line["result"], line["commit"]) == (0, "applied", older)
    assert repo.greeting() == "must not be applied"
    assert repo.commit_label() == repo.remote.last_change("manifests/configmap.yaml")


def test_a_deleted_branch_is_reported_not_crashed_on(scenario):
    repo = scenario.repo
    head = repo.remote.head()
    repo.remote.delete_branch()

    code, line = scenario.once()
    repo.remote.push()
    back = scenario.once()

    assert code == 1 and line["result"] == "failed" and "branch 'main' does not exist" in line["error"]
    assert back[0] == 0 and back[1]["result"] == "skipped" and back[1]["commit"] == head, "the head it had is applied"
    assert repo.greeting() == "must not be applied"


def test_a_commit_outside_the_path_filters_is_skipped(scenario):
    repo = scenario.repo
    label = repo.commit_label()
    docs = repo.remote.commit("docs only", {"README.md": "how to run the service\n"})

    code, line = scenario.once(paths=["manifests/", "app/"])

    assert (code, line["result"], line["commit"]) == (0, "skipped", docs)
    assert line["changes"] == {"create": 0, "update": 0, "replace": 0, "delete": 0, "same": 0}
    assert repo.commit_label() == label and scenario.status()["last_applied_commit"] != docs, "nothing was deployed"


def test_an_object_edited_with_kubectl_is_drift_and_auto_remediate_restores_it(scenario):
    repo = scenario.repo
    patched = repo.kubectl("patch", "configmap", "web-config", "--type", "merge", "--patch", '{"data":{"GREETING":"edited by hand"}}')
    assert patched.returncode == 0, patched.stderr

    code, drifted = scenario.once(drift_interval="1s")
    assert code == 1 and drifted["result"] == "drifted"
    assert "ConfigMap::" in drifted["error"] and "web-config" in drifted["error"]
    assert repo.greeting() == "edited by hand", "reported, not touched"
    assert scenario.status()["drifted_resources"] >= 1

    code, remediated = scenario.once(drift_interval="1s", auto_remediate=True)
    assert (code, remediated["result"]) == (0, "remediated")
    assert repo.greeting() == "must not be applied"
    assert scenario.status()["drifted_resources"] >= 1


def test_an_image_rebuild_under_a_strict_guard_is_not_mistaken_for_deletes(scenario):
    repo = scenario.repo
    before = repo.get("deployment", "web")["spec"]["template"]["spec"]["containers"][0]["image"]
    server = (repo.remote.clone / "app" / "server.py").read_text()
    rebuilt = repo.remote.commit("app change: a new image", {"app/server.py": server + "\n# rebuilt\n"})

    code, line = scenario.once(deletion_guard=0)

    # While the new digest is unknown the preview shows every object deleted; the
    # image is built first and the guard judges a preview that knows the digest.
    assert (code, line["result"], line["commit"]) == (0, "applied", rebuilt), line["error"]
    assert line["changes"]["delete"] == line["changes"]["replace"] == 0
    after = repo.get("deployment", "web")["spec"]["template"]["spec"]["containers"][0]["image"]
    assert after != before and "@sha256:" in after


def test_a_guarded_deletion_is_blocked_until_a_commit_allows_it(scenario):
    repo = scenario.repo
    server = (repo.remote.clone / "app" / "server.py").read_text()
    # With an image rebuild in the same commit, so the delete hides among the ones the first preview cannot plan.
    repo.remote.commit("drop a config map", {"manifests/extra-0.yaml": None, "app/server.py": server + "# again\n"})

    code, blocked = scenario.once(deletion_guard=0)
    assert code == 1 and blocked["result"] == "blocked" and blocked["changes"]["delete"] == 1
    assert "extra-0" in blocked["error"] and "Allow-Deletes: 1" in blocked["error"]
    assert repo.get("configmap", "extra-0") is not None

    allowed = repo.remote.commit("really drop it\n\nAllow-Deletes: 1")
    code, line = scenario.once(deletion_guard=0)
    assert (code, line["result"], line["commit"]) == (0, "applied", allowed)
    assert repo.get("configmap", "extra-0") is None


def test_sigkill_mid_update_is_recovered_at_the_next_start(scenario, start_service):
    repo = scenario.repo
    dockerfile = (repo.remote.clone / "app" / "Dockerfile").read_text()
    slow = repo.remote.commit("a slow image build", {
        # A step of its own each time, so the build cache never skips it.
        "app/Dockerfile": dockerfile.replace("WORKDIR /app", f"WORKDIR /app\nRUN echo {time.time_ns()} && sleep 45"),
        **manifests(repo.namespace, greeting="after the crash"),
    })
    port = free_port()
    config = scenario.config(port=port, resync_interval="3s")
    service = start_service(config, scenario.env, port)
    locks = lambda: list(repo.backend.glob(".pulumi/locks/**/*.json"))  # noqa: E731
    building = lambda: any("docker-build:index:Image" in line and "updating (" in line for line in service.log().splitlines())  # noqa: E731
    service.wait_until(lambda: locks() and building(), 300, "the update to be building the image")
    time.sleep(3)
    service.kill_hard()
    assert locks(), "the killed update left its lock"

    restarted = start_service(config, scenario.env, port)
    restarted.wait_until(lambda: restarted.stack(repo.name)["last_applied_commit"] == slow, 600, "convergence after the crash")

    assert not locks()
    assert repo.greeting() == "after the crash" and repo.commit_label() == slow
    assert "the last run did not finish; recovering" in restarted.log()
    history = run_cli("status", "--config", str(config), "--json", env=scenario.env)
    assert history.returncode == 0
    assert restarted.stop() == 0
