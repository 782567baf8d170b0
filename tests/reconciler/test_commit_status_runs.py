"""`python -m reconciler once` with the real engine (the provider-free tiny project), its commit statuses sent to a
recording GitHub on loopback: one that fails and then recovers, and one that is not there at all."""

from __future__ import annotations

import socket

import pytest

from testsupport.fake_github import serve_fake_github
from testsupport.reconciler_testing import PROJECT_DIR, TINY_PROJECT, json_lines, run_cli, tiny_stack, write_config

pytestmark = pytest.mark.e2e


@pytest.fixture
def tiny(remote):
    remote.commit("tiny project", TINY_PROJECT)
    (remote.clone / ".venv").symlink_to(PROJECT_DIR / ".venv")
    return remote


def once(tiny, tmp_path, env, api_url):
    config = write_config(tmp_path / "reconciler.yaml", [tiny_stack(tiny, tmp_path / "backend", github_repository="octo/service")],
                          github={"api_url": api_url, "status_target_url": "https://gitops.example/{stack}/{commit}"})
    result = run_cli("once", "--config", str(config), "--json", env=env)
    return result, json_lines(result.stdout)


def test_a_github_answering_502_then_429_gets_both_statuses_and_the_run_is_unchanged(tiny, tmp_path, engine_env):
    with serve_fake_github() as github:
        github.answers = [
            (502, {"message": "Server Error"}, {}),
            (429, {"message": "You have exceeded a secondary rate limit"}, {"Retry-After": "1"}),
        ]
        result, [line] = once(tiny, tmp_path, {**engine_env, "GITHUB_TOKEN": github.token}, github.url)

    assert result.returncode == 0, result.stderr
    assert (line["result"], line["commit"], line["changes"]["create"]) == ("applied", tiny.head(), 4)
    link = f"https://gitops.example/tiny/{tiny.head()}"
    assert github.statuses == [
        {"repository": "octo/service", "sha": tiny.head(), "state": "pending", "context": "gitops/tiny",
         "description": "applying", "target_url": link},
        {"repository": "octo/service", "sha": tiny.head(), "state": "success", "context": "gitops/tiny",
         "description": "applied: 4 created", "target_url": link},
    ]
    assert len(github.requests) == 4, "the pending status was sent three times: 502, 429, then 201"
    assert github.token not in result.stdout + result.stderr


def test_a_github_that_is_not_there_changes_nothing_but_a_warning(tiny, tmp_path, engine_env):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{probe.getsockname()[1]}"

    result, [line] = once(tiny, tmp_path, {**engine_env, "GITHUB_TOKEN": "ghs_never_sent_anywhere"}, closed)

    assert result.returncode == 0, result.stderr
    assert (line["result"], line["commit"], line["error"]) == ("applied", tiny.head(), None)
    assert f"could not reach the GitHub API at {closed}" in result.stderr
    assert "ghs_never_sent_anywhere" not in result.stdout + result.stderr
