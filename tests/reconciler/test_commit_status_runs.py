"""`python -m reconciler once` with the real engine (the provider-free tiny project), its commit statuses sent to a
recording GitHub on loopback: one that fails and then recovers, and one that is not there at all; and a service that
sends what is left before it stops."""

from __future__ import annotations

import socket

import pytest

from testsupport.fake_github import serve_fake_github
from testsupport.reconciler_testing import PROJECT_DIR, TINY_PROJECT, free_port, json_lines, run_cli, tiny_stack, write_config

pytestmark = pytest.mark.e2e


@pytest.fixture
def tiny(remote):
    remote.commit("tiny project", TINY_PROJECT)
    (remote.clone / ".venv").symlink_to(PROJECT_DIR / ".venv")
    return remote


def config_for(tiny, tmp_path, api_url, **top):
    return write_config(tmp_path / "reconciler.yaml", [tiny_stack(tiny, tmp_path / "backend", github_repository="octo/service")],
                        github={"api_url": api_url, "status_target_url": "https://gitops.example/{stack}/{commit}"}, **top)


def once(tiny, tmp_path, env, api_url):
    result = run_cli("once", "--config", str(config_for(tiny, tmp_path, api_url)), "--json", env=env)
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


def test_a_stopping_service_first_sends_the_status_github_asked_it_to_wait_with(tiny, tmp_path, engine_env, start_service):
    port = free_port()
    with serve_fake_github() as github:
        # The pending status goes through; the result is answered "come back in 5 s", and the service is stopped before.
        github.answers = [None, (429, {"message": "You have exceeded a secondary rate limit"}, {"Retry-After": "5"})]
        service = start_service(config_for(tiny, tmp_path, github.url, listen=f"127.0.0.1:{port}"),
                                {**engine_env, "GITHUB_TOKEN": github.token}, port)
        service.wait_until(lambda: len(github.requests) == 2, 300, "the run's result sent and refused for now")
        stopped = service.stop()

    assert stopped == 0
    assert [(status["state"], status["description"]) for status in github.statuses] == [
        ("pending", "applying"), ("success", "applied: 4 created"),
    ]
