"""Review stacks of the tiny project (no provider) on the real engine: a restart, a failure, secrets.

A restart: a labelled pull request's review stack is created; the service
stops; its TTL runs out while the service is down; the next service destroys it
on its first poll and keeps it as Expired, so later pushes do not bring it back.
A failure: the program's error is told on the pull request with its secrets
masked, and the next push that fixes it is applied.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from reconciler.review.store import ReviewStackStore
from testsupport.fake_github import serve_fake_github
from testsupport.pull_request_events import LabelledPullRequest, signed_event
from testsupport.reconciler_testing import TINY_PROJECT, free_port, json_lines, run_cli, tiny_stack, write_config
from testsupport.review_stack_checks import review_stacks

pytestmark = pytest.mark.e2e
SECRET = "review-restart-webhook-secret"
LABEL = "preview-env"


def test_a_restarted_service_destroys_a_review_stack_whose_ttl_ran_out_while_it_was_down(
        tmp_path: Path, remote, engine_env, start_service):
    remote.commit("tiny", TINY_PROJECT)
    state_dir = tmp_path / "reconciler-state"
    with serve_fake_github() as github:
        env = {**engine_env, "GITHUB_TOKEN": github.token, "WEBHOOK_SECRET": SECRET}
        port = free_port()
        config = write_config(
            tmp_path / "reconciler.yaml",
            [tiny_stack(remote, tmp_path / "backend", review_stacks={"label": LABEL, "ttl": "1h",
                                                                     "namespace_config": "tiny:reviewNamespace"})],
            listen=f"127.0.0.1:{port}", github={"api_url": github.url}, webhook={"secret": {"env": "WEBHOOK_SECRET"}},
        )
        pull = LabelledPullRequest(remote, github, "example/tiny", 3, (LABEL,))
        head = pull.push("one more thing", {"things.txt": "a\nb\nc\nd\n"})
        service = start_service(config, env, port)
        body = pull.event("labeled", LABEL)
        assert service.post("/hooks/github", body, signed_event(SECRET, body))[0] == 202
        service.wait_until(lambda: [r for r in review_stacks(service) if r["status"] == "Ready"], 300, "the review stack")
        backend = state_dir / "review-stacks" / "tiny-pr-3" / "backend"
        assert list(backend.glob(".pulumi/stacks/tiny/dev-pr-3.json")), "its state is in its own backend"
        assert service.stop() == 0

        # The TTL runs out while no service runs.
        store = ReviewStackStore(state_dir / "status.sqlite")
        record = store.get("tiny-pr-3")
        assert record is not None and record.applied_commit == head
        record.expires_at = time.time() - 1
        store.save(record)
        store.close()

        restarted = start_service(config, env, port)
        restarted.wait_until(lambda: [r for r in review_stacks(restarted) if r["status"] == "Expired"], 300,
                             "the expired review stack destroyed")
        assert not backend.parent.exists(), "its backend is gone"
        # The comment follows the store by a moment.
        restarted.wait_until(lambda: "### Review stack `dev-pr-3`: Expired" in pull.comment("tiny"), 30, "the comment")

        body = pull.event("synchronize")
        seen = len(restarted.log())
        assert restarted.post("/hooks/github", body, signed_event(SECRET, body))[0] == 202
        restarted.wait_until(lambda: "tiny-pr-3: nothing to do (its ttl ran out" in restarted.log()[seen:], 60, "the push judged")
        [entry] = review_stacks(restarted)
        assert entry["status"] == "Expired" and not backend.parent.exists(), "a push does not bring it back"
        assert restarted.stop() == 0

    cli_env = {**engine_env, "WEBHOOK_SECRET": SECRET}
    listed = run_cli("status", "--config", str(config), "--json", env=cli_env)
    assert listed.returncode == 0, listed.stderr
    [line] = [entry for entry in json_lines(listed.stdout) if "review_stack" in entry]
    assert (line["review_stack"]["name"], line["review_stack"]["status"]) == ("tiny-pr-3", "Expired")
    text = run_cli("status", "--config", str(config), env=cli_env).stdout
    assert "tiny-pr-3" in text and "Expired" in text and "review of example/tiny#3" in text


def test_a_failing_program_is_told_on_the_pull_request_without_its_secrets_and_the_next_push_fixes_it(
        tmp_path: Path, remote, engine_env, start_service):
    remote.commit("tiny", TINY_PROJECT)
    token = "review-stack-token-8d1f0a"
    with serve_fake_github() as github:
        env = {**engine_env, "GITHUB_TOKEN": github.token, "WEBHOOK_SECRET": SECRET, "TINY_TOKEN": token}
        port = free_port()
        stack = tiny_stack(remote, tmp_path / "backend", config={"tiny:token": {"secret_env": "TINY_TOKEN"}},
                           review_stacks={"label": LABEL, "namespace_config": "tiny:reviewNamespace"})
        config = write_config(tmp_path / "reconciler.yaml", [stack], listen=f"127.0.0.1:{port}",
                              github={"api_url": github.url}, webhook={"secret": {"env": "WEBHOOK_SECRET"}})
        pull = LabelledPullRequest(remote, github, "example/tiny", 4, (LABEL,))
        pull.push("a careless program", {"leak.txt": "config:token"})
        service = start_service(config, env, port)
        body = pull.event("opened")
        assert service.post("/hooks/github", body, signed_event(SECRET, body))[0] == 202

        [failed] = service.wait_until(lambda: [r for r in review_stacks(service) if r["status"] == "Failed"], 300, "the failure")
        service.wait_until(lambda: "### Review stack `dev-pr-4`: Failed" in pull.comment("tiny"), 30, "the comment")
        comment = pull.comment("tiny")
        assert "a careless program prints token" in comment
        assert token not in comment and token not in json.dumps(failed) and token not in service.log()

        fixed = pull.push("careful again", {"leak.txt": None})
        body = pull.event("synchronize")
        assert service.post("/hooks/github", body, signed_event(SECRET, body))[0] == 202
        service.wait_until(lambda: [r for r in review_stacks(service) if r["applied_commit"] == fixed and r["status"] == "Ready"],
                           300, "the fixed head applied")
        service.wait_until(lambda: "### Review stack `dev-pr-4`: Ready" in pull.comment("tiny"), 30, "the comment")
        assert service.stop() == 0
