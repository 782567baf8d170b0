"""The conditions read as the Kubernetes API conventions write them: CamelCase reasons, a message a person can
act on, and a Stalled message only when the stack is stalled (reconciler/README.md, "Status")."""

from __future__ import annotations

import random

from reconciler.errors import Waiting
from reconciler.settings import RetryPolicy
from reconciler.status.model import Result, RunKind, RunOutcome, StackState
from reconciler.status.position import advance, conditions

A, B = "a" * 40, "b" * 40
DIGEST = "digest-one"
POLICY = RetryPolicy(unreachable_delay=15, concurrent_delay=30, backoff_base=10, backoff_cap=600)


def settled(**fields) -> StackState:
    base = dict(observed_commit=A, desired_digest=DIGEST, settled_commit=A, settled_digest=DIGEST, settled_result="applied",
                last_result="applied")
    return StackState("web", **{**base, **fields})


def by_type(state: StackState) -> dict:
    return {c.type: c for c in conditions(state, 500.0)}


def test_a_stack_with_a_commit_not_applied_yet_is_progressing_and_names_the_commit():
    ready = by_type(settled(observed_commit=B))["Ready"]

    assert (ready.status, ready.reason) == (False, "Progressing")
    assert "bbbbbbbbbbbb" in ready.message and "not applied" in ready.message


def test_a_drift_without_a_stored_message_says_how_many_resources_drifted():
    ready = by_type(settled(last_result="drifted", drifted=3))["Ready"]

    assert (ready.status, ready.reason) == (False, "Drifted")
    assert ready.message.startswith("3 resource(s)")


def test_a_stack_that_is_not_stalled_has_no_stalled_message():
    stalled = by_type(settled())["Stalled"]

    assert (stalled.status, stalled.reason, stalled.message) == (False, "NotStalled", "")


def test_a_stalled_stack_says_what_will_unblock_it():
    stalled = by_type(settled(settled_result="failed", reason="ProgramError", message="manifests/x.yaml is broken"))["Stalled"]

    assert stalled.status is True
    assert stalled.message.startswith("manifests/x.yaml is broken") and "new commit or config change" in stalled.message


def test_a_wait_without_its_own_delay_looks_again_at_the_next_poll_and_counts_no_failure():
    state = StackState("web", failures=3, last_attempted_commit=A, last_attempted_digest=DIGEST, retry_at=90.0)
    run = RunOutcome("web", A, "poll", RunKind.APPLY, Result.FAILED, 100.0, 110.0, config_digest=DIGEST)

    advance(state, run, Waiting("PromotionPending", "dev has not applied it yet"), 3, POLICY, random.Random(2))

    # Nothing here backs off: the upstream's own run (or the next poll) is what can end the wait.
    assert state.retry_at is None
    assert state.failures == 3, "waiting for someone else is not a failure"


def test_a_wait_with_its_own_delay_looks_again_after_it():
    state = StackState("web", failures=0, last_attempted_commit=A, last_attempted_digest=DIGEST)
    run = RunOutcome("web", A, "poll", RunKind.APPLY, Result.FAILED, 100.0, 110.0, config_digest=DIGEST)

    advance(state, run, Waiting("LockHeld", "the stack is locked", delay=15.0), 3, POLICY, random.Random(2))

    assert state.retry_at == 110.0 + 15.0 and state.failures == 0
