"""Decisions from data: error classes (the SDK's own classes), retry delays, the deletion guard, what to run next."""

from __future__ import annotations

import random

import pytest
from pulumi import automation as auto
from pulumi.automation._cmd import CommandResult

from reconciler.decision import Action, decide
from reconciler.policy.backoff import retry_delay
from reconciler.policy.classification import Retry, classify
from reconciler.policy.deletion_guard import judge
from reconciler.settings import RetryPolicy
from reconciler.source.checkout import CommitMissingError
from reconciler.source.git_command import GitError
from reconciler.source.remote_head import BranchMissingError
from reconciler.status.model import RunOutcome, StackState
from reconciler.status.position import advance

POLICY = RetryPolicy(unreachable_delay=15, concurrent_delay=30, backoff_base=10, backoff_cap=600)
RESULT = CommandResult(stdout="", stderr="", code=255)


@pytest.mark.parametrize("error, error_class, retry", [
    (auto.ConcurrentUpdateError(RESULT), "concurrent_update", Retry.WAIT),
    (auto.errors.RuntimeError(RESULT), "program_error", Retry.NEXT_COMMIT),
    (auto.errors.CompilationError(RESULT), "program_error", Retry.NEXT_COMMIT),
    (auto.CommandError(RESULT), "engine_error", Retry.BACKOFF),
    (GitError("cannot read", unreachable=True), "source_unreachable", Retry.FIXED),
    (BranchMissingError("gone"), "branch_missing", Retry.NEXT_POLL),
    (CommitMissingError("no such commit"), "commit_missing", Retry.NEXT_COMMIT),
    (KeyError("bug"), "internal_error", Retry.BACKOFF),
])
def test_errors_are_classified_by_their_class(error, error_class, retry):
    classification = classify(error, backend_reachable=lambda: True)
    assert (classification.error_class, classification.retry) == (error_class, retry)


def test_a_command_error_with_the_backend_down_is_an_unreachable_backend():
    classification = classify(auto.CommandError(RESULT), backend_reachable=lambda: False)
    assert (classification.error_class, classification.retry) == ("backend_unreachable", Retry.FIXED)


def test_backoff_doubles_with_jitter_up_to_the_cap():
    engine_error = classify(auto.CommandError(RESULT), backend_reachable=lambda: True)
    rng = random.Random(7)

    delays = [retry_delay(engine_error, failures, POLICY, 60, rng) for failures in range(1, 10)]

    for failures, delay in enumerate(delays, start=1):
        ceiling = min(600, 10 * 2 ** (failures - 1))
        assert ceiling / 2 <= delay <= ceiling
    assert max(delays) <= 600 and delays[-1] >= 300


def test_fixed_and_waiting_delays_and_waiting_for_a_new_commit():
    assert retry_delay(classify(GitError("x", unreachable=True)), 5, POLICY, 60) == 15
    assert retry_delay(classify(auto.ConcurrentUpdateError(RESULT)), 5, POLICY, 60) == 30
    assert retry_delay(classify(BranchMissingError("x")), 5, POLICY, 60) == 60
    assert retry_delay(classify(auto.errors.RuntimeError(RESULT)), 1, POLICY, 60) is None


@pytest.mark.parametrize("deletes, replaces, threshold, trailer, allowed", [
    (0, 0, 0, None, True),
    (1, 0, 0, None, False),
    (1, 1, 1, None, False),
    (1, 1, 1, 2, True),
    (3, 0, 0, 2, False),
    (5, 5, None, None, True),
])
def test_the_deletion_guard(deletes, replaces, threshold, trailer, allowed):
    verdict = judge(deletes, replaces, threshold, trailer)
    assert verdict.allowed is allowed
    if not allowed:
        assert f"Allow-Deletes: {deletes + replaces}" in verdict.reason


A, B = "a" * 40, "b" * 40


def test_decide_runs_a_new_head_and_rests_on_a_settled_one(tiny_spec):
    assert decide(tiny_spec, StackState("web"), A, 1000.0) is Action.APPLY
    settled = StackState("web", settled_commit=A, settled_result="applied", last_applied_commit=A, last_applied_at=1000.0)
    assert decide(tiny_spec, settled, A, 1001.0) is None


def test_a_newer_commit_wins_over_the_backoff_of_an_older_one(tiny_spec):
    backing_off = StackState("web", settled_commit=None, last_attempted_commit=A, last_result="failed", retry_at=2000.0)

    assert decide(tiny_spec, backing_off, A, 1000.0) is None
    assert decide(tiny_spec, backing_off, A, 2000.0) is Action.APPLY
    assert decide(tiny_spec, backing_off, B, 1000.0) is Action.APPLY


def test_a_refused_commit_waits_for_the_next_one_but_once_rechecks_it(tiny_spec):
    blocked = StackState("web", settled_commit=A, settled_result="blocked", last_attempted_commit=A, last_applied_commit=B,
                         last_result="blocked", last_drift_check_at=0.0)

    spec = tiny_spec.__class__(**{**tiny_spec.__dict__, "drift_interval": 300.0})
    assert decide(spec, blocked, A, 1000.0) is None, "no drift check of a head that is not applied"
    assert decide(spec, blocked, A, 1000.0, force=True) is Action.APPLY


def test_drift_checks_come_at_their_interval_after_the_last_apply_or_check(tiny_spec):
    spec = tiny_spec.__class__(**{**tiny_spec.__dict__, "drift_interval": 300.0})
    state = StackState("web", settled_commit=A, settled_result="applied", last_applied_commit=A, last_applied_at=1000.0)

    assert decide(spec, state, A, 1200.0) is None
    assert decide(spec, state, A, 1300.0) is Action.DRIFT
    state.last_drift_check_at = 1300.0
    assert decide(spec, state, A, 1500.0) is None


def outcome(result: str, commit: str = A, kind: str = "apply", resources=None) -> RunOutcome:
    return RunOutcome("web", commit, "poll", kind, result, 100.0, 110.0, resources=resources or [])


def test_an_applied_commit_is_settled_and_clears_failures():
    state = advance(StackState("web", failures=3, retry_at=5.0), outcome("applied"), None, POLICY, 60)

    assert (state.last_applied_commit, state.settled_commit, state.settled_result) == (A, A, "applied")
    assert (state.failures, state.retry_at, state.last_applied_at) == (0, None, 110.0)


def test_failures_of_one_commit_count_up_and_a_new_commit_starts_again():
    engine_error = classify(auto.CommandError(RESULT), backend_reachable=lambda: True)
    state = StackState("web")
    for _ in range(3):
        state = advance(state, outcome("failed"), engine_error, POLICY, 60)
    assert state.failures == 3 and state.settled_commit is None and 110.0 + 20 <= state.retry_at <= 110.0 + 40

    state = advance(state, outcome("failed", commit=B), engine_error, POLICY, 60)
    assert state.failures == 1 and state.last_attempted_commit == B


def test_a_program_error_settles_the_commit_as_failed():
    state = advance(StackState("web", last_applied_commit=B), outcome("failed"), classify(auto.errors.RuntimeError(RESULT)), POLICY, 60)

    assert (state.settled_commit, state.settled_result, state.retry_at) == (A, "failed", None)
    assert state.last_applied_commit == B


def test_a_drift_check_that_only_looks_leaves_the_commit_standing():
    before = StackState("web", settled_commit=B, settled_result="blocked", last_attempted_commit=B, last_applied_commit=A)
    state = advance(before, outcome("drifted", commit=B, kind="drift", resources=[{"urn": "u", "op": "update"}]), None, POLICY, 60)

    assert (state.settled_result, state.last_result, state.drifted, state.last_drift_check_at) == ("blocked", "drifted", 1, 110.0)
    assert state.last_applied_commit == A
