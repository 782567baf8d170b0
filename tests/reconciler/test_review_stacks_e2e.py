"""A review stack on the real engine and the local cluster, driven by pull request webhooks from a recording GitHub.

A labelled pull request gets its own stack and namespace; a push updates it;
closing the pull request destroys it, and then nothing of it is left: not its
namespace, not its stack in any backend. The base stack's objects are never touched.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import pytest

from testsupport.fake_github import serve_fake_github
from testsupport.pull_request_events import LabelledPullRequest, signed_event
from testsupport.reconciler_cluster import ClusterRepo, manifests
from testsupport.review_stack_checks import kubectl, ready_at, review_stacks
from testsupport.review_stack_service import review_stack_service

pytestmark = pytest.mark.e2e
OWNER, REPO = "example", "reviewed"
WEBHOOK_SECRET = "e2e-review-stack-webhook-secret"
LABEL = "preview-env"
NUMBER = 21
# Derived from the base entry's name and the pull request's number (README, "Review stacks").
REVIEW_NAMESPACE = "rs-e2e-pr-21"
REVIEW_STACK = "local-pr-21"


def greeting(text: str) -> dict[str, Optional[str]]:
    return {"manifests/configmap.yaml": manifests("unused", text)["manifests/configmap.yaml"]}


def greeting_in(local_env: dict[str, str], namespace: str) -> Optional[str]:
    found = kubectl(local_env, "--namespace", namespace, "get", "configmap", "web-config", "--output", "json")
    return json.loads(found.stdout)["data"]["GREETING"] if found.returncode == 0 else None


def test_a_labelled_pull_request_gets_a_review_stack_updated_on_push_and_destroyed_on_close(
        tmp_path: Path, local_env, engine_env, start_service):
    repo = ClusterRepo(tmp_path, "rs-e2e", local_env)
    kubectl(local_env, "delete", "namespace", REVIEW_NAMESPACE, "--ignore-not-found", "--wait=true", "--timeout=180s")
    state_dir = tmp_path / "reconciler-state"
    with serve_fake_github() as github:
        config, env, port = review_stack_service(tmp_path, repo, local_env, engine_env, github, LABEL, WEBHOOK_SECRET)
        service = start_service(config, env, port)
        try:
            service.wait_until(lambda: service.stack(repo.name)["last_applied_commit"], 600, "the base stack's first pass")
            pull = LabelledPullRequest(repo.remote, github, f"{OWNER}/{REPO}", NUMBER, (LABEL,))

            first = pull.push("a greeting for review", greeting("hello from the pull request"))
            body = pull.event("labeled", LABEL)
            status, answer = service.post("/hooks/github", body, signed_event(WEBHOOK_SECRET, body))

            assert status == 202 and json.loads(answer)["review_stacks"] == {"queued": [f"{repo.name}-pr-{NUMBER}"]}
            service.wait_until(lambda: ready_at(service, first), 900, "the review stack created")
            assert greeting_in(local_env, REVIEW_NAMESPACE) == "hello from the pull request"
            assert kubectl(local_env, "--namespace", REVIEW_NAMESPACE, "get", "deployment", "web").returncode == 0
            assert greeting_in(local_env, repo.namespace) == "hello from git", "the base stack's objects are its own"
            [entry] = review_stacks(service)
            assert (entry["pulumi_stack"], entry["namespace"]) == (REVIEW_STACK, REVIEW_NAMESPACE)
            # The comment follows the store by a moment.
            service.wait_until(lambda: f"### Review stack `{REVIEW_STACK}`: Ready" in pull.comment(repo.name), 30, "the comment")
            assert f"Namespace: `{REVIEW_NAMESPACE}`" in pull.comment(repo.name)

            second = pull.push("a second greeting", greeting("hello again"))
            body = pull.event("synchronize")
            assert service.post("/hooks/github", body, signed_event(WEBHOOK_SECRET, body))[0] == 202
            service.wait_until(lambda: ready_at(service, second), 900, "the review stack updated")
            assert greeting_in(local_env, REVIEW_NAMESPACE) == "hello again"
            service.wait_until(lambda: f"applied commit `{second[:7]}`" in pull.comment(repo.name), 30, "the comment")

            pull.details["state"] = "closed"
            body = pull.event("closed")
            assert service.post("/hooks/github", body, signed_event(WEBHOOK_SECRET, body))[0] == 202
            service.wait_until(lambda: review_stacks(service) == [], 600, "the review stack destroyed")
            service.wait_until(lambda: kubectl(local_env, "get", "namespace", REVIEW_NAMESPACE).returncode != 0, 180,
                               "the review namespace gone")
            assert "NotFound" in kubectl(local_env, "get", "namespace", REVIEW_NAMESPACE).stderr
            assert not (state_dir / "review-stacks" / f"{repo.name}-pr-{NUMBER}").exists(), "its backend is removed"
            assert list(repo.backend.glob(f".pulumi/stacks/**/{REVIEW_STACK}*")) == [], "the base backend never held it"
            service.wait_until(lambda: f"### Review stack `{REVIEW_STACK}`: Destroyed" in pull.comment(repo.name), 30,
                               "the comment")
            assert greeting_in(local_env, repo.namespace) == "hello from git", "the base stack is untouched"
            assert service.stop() == 0
        finally:
            repo.delete_namespace()
            kubectl(local_env, "delete", "namespace", REVIEW_NAMESPACE, "--ignore-not-found", "--wait=false")
