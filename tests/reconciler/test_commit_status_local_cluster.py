"""The local stack (this project's program, the local registry and cluster) reconciled by `once` for real, its commit
statuses received by a recording GitHub on loopback: pending while the engine runs, then the result."""

from __future__ import annotations

import pytest

from testsupport.fake_github import serve_fake_github
from testsupport.reconciler_cluster import PASSPHRASE_ENV, REGISTRY_PASSWORD_ENV, ClusterRepo
from testsupport.reconciler_testing import json_lines, run_cli, write_config

pytestmark = pytest.mark.e2e


def test_the_local_stack_shows_pending_then_applied_on_the_commit_it_deployed(local_env, engine_env, tmp_path):
    repo = ClusterRepo(tmp_path, "rec-commit-status", local_env)
    env = {**engine_env, **local_env, PASSPHRASE_ENV: "e2e-passphrase", REGISTRY_PASSWORD_ENV: "e2e-registry-password"}
    try:
        with serve_fake_github() as github:
            config = write_config(tmp_path / "reconciler.yaml", [repo.stack_entry(github_repository="octo/service")],
                                  github={"api_url": github.url, "status_target_url": "https://gitops.example/{stack}?c={commit}"})
            result = run_cli("once", "--config", str(config), "--json", env={**env, "GITHUB_TOKEN": github.token}, timeout=900)
        [line] = json_lines(result.stdout)
        label = repo.commit_label()
    finally:
        repo.delete_namespace()

    assert result.returncode == 0, result.stderr[-3000:]
    assert (line["result"], line["commit"]) == ("applied", repo.first_commit) and label == repo.first_commit
    assert github.calls() == [("POST", f"/repos/octo/service/statuses/{repo.first_commit}")] * 2
    link = f"https://gitops.example/{repo.name}?c={repo.first_commit}"
    assert [request.body for request in github.requests] == [
        {"state": "pending", "context": f"gitops/{repo.name}", "description": "applying", "target_url": link},
        {"state": "success", "context": f"gitops/{repo.name}", "description": f"applied: {line['changes']['create']} created",
         "target_url": link},
    ]
    assert line["changes"]["create"] > 0 and all(r.headers["authorization"] == f"Bearer {github.token}" for r in github.requests)
