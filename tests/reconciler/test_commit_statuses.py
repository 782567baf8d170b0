"""Commit statuses sent to a recording GitHub on loopback (real sockets): the exact requests, the retries, what is
not repeated, and a GitHub that is slow or refuses."""

from __future__ import annotations

import logging
import socket
import time
from dataclasses import replace
from pathlib import Path
from typing import Any, Iterator

import pytest

from reconciler.commit_status.listener import commit_status_listeners
from reconciler.commit_status.repository import github_repository
from reconciler.commit_status.status_text import recorded
from reconciler.errors import BACKEND_UNREACHABLE, DELETION_GUARD, PROGRAM_ERROR
from reconciler.run_events import RunListener
from reconciler.settings import ConfigError, ServiceConfig, StackSpec, load_config
from reconciler.status.model import ChangeCounts, Result, RunKind, RunOutcome, StackState
from testsupport.fake_github import FakeGitHub, serve_fake_github
from testsupport.reconciler_testing import tiny_stack, write_config

COMMIT = "3f1c9a7e5b2d4c6a8e0f1b3d5a7c9e1f2b4d6a8c"
NEXT_COMMIT = "9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a0b"
TARGET = "https://gitops.example/stacks/{stack}?commit={commit}"


@pytest.fixture
def github(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeGitHub]:
    with serve_fake_github() as fake:
        monkeypatch.setenv("GITHUB_TOKEN", fake.token)
        yield fake
        fake.gate.set()


def config_for(tmp_path: Path, remote: Any, github: dict[str, Any], **stack: Any) -> ServiceConfig:
    entry = tiny_stack(remote, tmp_path / "backend", secrets_passphrase=None, **stack)
    return load_config(write_config(tmp_path / "reconciler.yaml", [entry], github=github))


@pytest.fixture
def statuses(tmp_path: Path, remote: Any, github: FakeGitHub) -> tuple[RunListener, StackSpec]:
    """The listener of a stack whose commits are on octo/service, and that stack."""
    config = config_for(tmp_path, remote, {"api_url": github.url}, github_repository="octo/service")
    [listener] = commit_status_listeners(config)
    return listener, config.stacks[0]


def run(result: Result = Result.APPLIED, kind: RunKind = RunKind.APPLY, commit: str = COMMIT, **fields: Any) -> RunOutcome:
    return RunOutcome("tiny", commit, "poll", kind, result, 1.0, 2.0, **fields)


def started_and_recorded(listener: RunListener, spec: StackSpec, outcome: RunOutcome) -> None:
    """A run, with time to send each status (runs take longer than that; a status still queued would be replaced)."""
    listener.run_started(spec, run(Result.FAILED, outcome.kind, outcome.commit or COMMIT))
    listener.flush(10)
    recorded_and_sent(listener, spec, outcome)


def recorded_and_sent(listener: RunListener, spec: StackSpec, outcome: RunOutcome) -> None:
    listener.run_recorded(spec, outcome, StackState("tiny"))
    listener.flush(10)


def posted(github: FakeGitHub) -> list[tuple[str, str]]:
    return [(status["state"], status["description"]) for status in github.statuses]


def test_a_run_posts_pending_then_its_result_on_its_commit(tmp_path, remote, github):
    config = config_for(tmp_path, remote, {"api_url": github.url, "status_target_url": TARGET}, github_repository="octo/service")
    [listener] = commit_status_listeners(config)
    spec = config.stacks[0]

    started_and_recorded(listener, spec, run(changes=ChangeCounts(create=2, update=1, same=4)))

    link = f"https://gitops.example/stacks/tiny?commit={COMMIT}"
    assert github.calls() == [("POST", f"/repos/octo/service/statuses/{COMMIT}")] * 2
    assert [request.body for request in github.requests] == [
        {"state": "pending", "context": "gitops/tiny", "description": "applying", "target_url": link},
        {"state": "success", "context": "gitops/tiny", "description": "applied: 2 created, 1 updated", "target_url": link},
    ]
    for request in github.requests:
        assert request.headers["authorization"] == f"Bearer {github.token}"
        assert request.headers["accept"] == "application/vnd.github+json"
        assert request.headers["x-github-api-version"] == "2022-11-28"
        assert request.headers["content-type"] == "application/json"


@pytest.mark.parametrize(
    ("outcome", "state", "description"),
    [
        (run(Result.FAILED, reason=PROGRAM_ERROR, error_message="ValueError: fail.txt: broken\n  at line 3"),
         "failure", "failed (ProgramError): ValueError: fail.txt: broken"),
        (run(Result.FAILED, reason=BACKEND_UNREACHABLE, error_message="dial tcp: connection refused"),
         "error", "failed (BackendUnreachable): dial tcp: connection refused"),
        (run(Result.BLOCKED, reason=DELETION_GUARD, changes=ChangeCounts(delete=2, replace=1), error_message="2 deletes need a trailer"),
         "failure", "blocked (DeletionGuard): 1 to replace, 2 to delete: 2 deletes need a trailer"),
        (run(Result.DRIFTED, kind=RunKind.DRIFT, reason="Drifted", resources=[{"urn": "a", "op": "update"}] * 3),
         "failure", "drifted: 3 resource(s) differ from the commit"),
        (run(Result.REMEDIATED, kind=RunKind.DRIFT, changes=ChangeCounts(update=1)), "success", "remediated: 1 updated"),
        (run(Result.APPLIED), "success", "applied: no changes"),
        (run(Result.SKIPPED), "success", "skipped: nothing under the stack's paths changed"),
        (run(Result.FAILED, reason="PromotionPending", error_message="waits for dev: 2m left of its soak"),
         "pending", "waiting (PromotionPending): waits for dev: 2m left of its soak"),
        (run(Result.FAILED, reason="LockHeld", error_message="the stack is locked by ops@host (pid 7)"),
         "pending", "waiting (LockHeld): the stack is locked by ops@host (pid 7)"),
    ],
)
def test_each_result_has_a_github_state_and_names_its_counts(outcome, state, description):
    text = recorded(outcome)

    assert (text.state, text.description) == (state, description)


def test_a_description_is_cut_to_githubs_140_characters():
    text = recorded(run(Result.FAILED, reason=PROGRAM_ERROR, error_message="x" * 500))

    assert len(text.description) == 140 and text.description.startswith("failed (ProgramError): xxx")


def test_5xx_then_a_secondary_rate_limit_is_retried_after_retry_after_and_delivered(statuses, github):
    listener, spec = statuses
    github.answers = [
        (502, {"message": "Server Error"}, {}),
        (429, {"message": "You have exceeded a secondary rate limit"}, {"Retry-After": "1"}),
    ]

    listener.run_recorded(spec, run(changes=ChangeCounts(create=1)), StackState("tiny"))
    listener.flush(30)

    assert github.calls() == [("POST", f"/repos/octo/service/statuses/{COMMIT}")] * 3
    assert len({str(request.body) for request in github.requests}) == 1
    assert github.requests[2].at - github.requests[1].at >= 1.0, "the retry came before Retry-After said"
    assert posted(github) == [("success", "applied: 1 created")]


def test_a_403_with_retry_after_is_a_rate_limit_and_is_retried(statuses, github):
    listener, spec = statuses
    github.answers = [(403, {"message": "You have exceeded a secondary rate limit"}, {"Retry-After": "1"})]

    listener.run_recorded(spec, run(), StackState("tiny"))
    listener.flush(30)

    assert len(github.requests) == 2 and posted(github) == [("success", "applied: no changes")]
    assert github.requests[1].at - github.requests[0].at >= 1.0, "the retry came before Retry-After said"


def test_a_refusal_is_logged_with_what_to_do_never_retried_and_never_with_the_token(statuses, github, caplog):
    listener, spec = statuses
    github.answers = [(403, {"message": f"Resource not accessible by integration {github.token}"}, {})]
    caplog.set_level(logging.WARNING, logger="reconciler.commit_status")

    listener.run_recorded(spec, run(), StackState("tiny"))
    listener.flush(30)

    assert len(github.requests) == 1 and github.statuses == []
    assert "grant it `statuses: write`" in caplog.text and "Resource not accessible" in caplog.text
    assert github.token not in caplog.text


def test_a_held_github_never_holds_up_the_run_and_only_the_newest_status_per_commit_waits(statuses, github):
    listener, spec = statuses
    github.gate.clear()  # GitHub takes the first request and answers nothing until the gate opens

    listener.run_started(spec, run(Result.FAILED, commit=COMMIT))
    first_taken = time.monotonic() + 10
    while not github.requests and time.monotonic() < first_taken:
        time.sleep(0.01)
    listener.run_recorded(spec, run(commit=COMMIT), StackState("tiny"))
    listener.run_started(spec, run(Result.FAILED, commit=NEXT_COMMIT))
    listener.run_recorded(spec, run(Result.FAILED, reason=PROGRAM_ERROR, commit=NEXT_COMMIT), StackState("tiny"))
    held = [(request.path, request.body["state"]) for request in github.requests]
    github.gate.set()
    listener.flush(30)

    assert held == [(f"/repos/octo/service/statuses/{COMMIT}", "pending")], "the calls above returned while GitHub held"
    assert [(status["sha"], status["state"]) for status in github.statuses] == [
        (COMMIT, "pending"), (COMMIT, "success"), (NEXT_COMMIT, "failure"),
    ]


def test_what_a_commit_already_shows_is_not_posted_again(statuses, github):
    listener, spec = statuses
    failing = run(Result.FAILED, reason=PROGRAM_ERROR, error_message="ValueError: boom")
    started_and_recorded(listener, spec, failing)
    started_and_recorded(listener, spec, failing)  # a retry of the same commit, failing the same way
    started_and_recorded(listener, spec, run(changes=ChangeCounts(create=4)))
    recorded_and_sent(listener, spec, run(Result.SKIPPED, RunKind.DRIFT))  # no drift: it shows success already
    drifted = run(Result.DRIFTED, RunKind.DRIFT, reason="Drifted", resources=[{"urn": "a", "op": "update"}])
    recorded_and_sent(listener, spec, drifted)
    recorded_and_sent(listener, spec, drifted)
    recorded_and_sent(listener, spec, run(Result.SKIPPED, RunKind.DRIFT))  # someone put it back

    assert posted(github) == [
        ("pending", "applying"),
        ("failure", "failed (ProgramError): ValueError: boom"),
        ("success", "applied: 4 created"),
        ("failure", "drifted: 1 resource(s) differ from the commit"),
        ("success", "in sync: no drift"),
    ]


def test_a_status_github_did_not_take_is_sent_again_with_the_next_run(statuses, github):
    listener, spec = statuses
    failing = run(Result.FAILED, reason=PROGRAM_ERROR, error_message="ValueError: boom")
    github.answers = [(502, {"message": "Server Error"}, {})] * 4  # the first send and its three retries

    recorded_and_sent(listener, spec, failing)
    recorded_and_sent(listener, spec, failing)

    assert len(github.requests) == 5
    assert posted(github) == [("failure", "failed (ProgramError): ValueError: boom")]


def test_without_a_token_nothing_is_sent_and_the_log_says_which_variable(statuses, github, monkeypatch, caplog):
    listener, spec = statuses
    monkeypatch.delenv("GITHUB_TOKEN")
    caplog.set_level(logging.WARNING, logger="reconciler.commit_status")

    started_and_recorded(listener, spec, run())
    listener.flush(10)

    assert github.requests == []
    assert caplog.text.count("$GITHUB_TOKEN is empty") == 1


def test_a_github_that_is_down_costs_a_bounded_wait_and_a_warning(tmp_path, remote, monkeypatch, caplog):
    monkeypatch.setenv("GITHUB_TOKEN", "ghs_down_token")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{probe.getsockname()[1]}"
    config = config_for(tmp_path, remote, {"api_url": closed}, github_repository="octo/service")
    [listener] = commit_status_listeners(config)
    caplog.set_level(logging.WARNING, logger="reconciler.commit_status")

    listener.run_recorded(config.stacks[0], run(), StackState("tiny"))
    listener.flush(30)

    assert f"could not reach the GitHub API at {closed}" in caplog.text
    assert "ghs_down_token" not in caplog.text


def test_which_stacks_are_on_github(tmp_path, remote):
    config = config_for(tmp_path, remote, {})
    local = config.stacks[0]
    on = {
        "https://github.com/Octo/Service.git": "octo/service",
        "git@github.com:octo/service.git": "octo/service",
        "ssh://git@github.com/octo/service": "octo/service",
        "https://gitlab.com/octo/service.git": None,
        "https://github.com/octo": None,
    }
    for url, expected in on.items():
        assert github_repository(replace(local, repo_url=url), "https://api.github.com") == expected, url
    assert github_repository(replace(local, repo_url="https://ghe.example/octo/service"), "https://ghe.example/api/v3") == "octo/service"
    assert github_repository(local, "https://api.github.com") is None, "a local path is on no GitHub"
    assert github_repository(replace(local, github_repository="octo/other"), "https://api.github.com") == "octo/other"
    assert github_repository(replace(local, repo_url="https://github.com/octo/service", github_repository="off"),
                             "https://api.github.com") is None


def test_no_listener_when_statuses_are_off_or_no_stack_is_on_github(tmp_path, remote):
    assert commit_status_listeners(config_for(tmp_path, remote, {})) == []
    assert commit_status_listeners(config_for(tmp_path, remote, {"commit_statuses": False}, github_repository="octo/service")) == []


@pytest.mark.parametrize(
    ("section", "stack", "expected"),
    [
        ({"status_target_url": "https://x.example/{branch}"}, {}, "has {branch}: only {stack} and {commit} are filled in"),
        ({"status_target_url": "https://x.example/{stack"}, {}, "is not a template like"),
        ({"status_target_url": "ftp://x.example/{stack}"}, {}, "must be an http(s) URL like"),
        ({}, {"github_repository": "octo/service/extra"}, "must be a GitHub repository written owner/repo"),
        ({}, {"github_repository": "octo/.."}, "must be a GitHub repository written owner/repo"),
    ],
)
def test_bad_settings_are_named(tmp_path, remote, section, stack, expected):
    with pytest.raises(ConfigError) as raised:
        config_for(tmp_path, remote, section, **stack)

    assert expected in str(raised.value)
