"""How a finished run moves a stack's position, and the conditions that position reads as. Pure functions."""

from __future__ import annotations

import random
from typing import Optional

from reconciler.errors import DEADLINE_EXCEEDED, INTERRUPTED, LEASE_LOST, LOCK_HELD, ReconcileError, Stalled, Temporary, Waiting
from reconciler.settings import RetryPolicy

from .model import IN_SYNC_VALUES, READY, RECONCILING, STALLED, Condition, Result, RunKind, RunOutcome, StackState

# After these the engine may have left a lock or pending operations: the next pass looks first (a lost Lease: when
# this replica holds the stack again; its CLI may have been stopped by the fence).
_NEEDS_RECOVERY = (INTERRUPTED, DEADLINE_EXCEEDED, LOCK_HELD, LEASE_LOST)


def backoff(failures: int, retry: RetryPolicy, rng: Optional[random.Random] = None) -> float:
    """Exponential up to the cap, with "equal jitter": at least half the step, so many stacks spread out."""
    ceiling = min(retry.backoff_cap, retry.backoff_base * 2 ** max(failures - 1, 0))
    return ceiling / 2 + (rng or random).uniform(0, ceiling / 2)


def advance(
    state: StackState,
    run: RunOutcome,
    error: Optional[ReconcileError],
    program_retries: int,
    retry: RetryPolicy,
    rng: Optional[random.Random] = None,
) -> None:
    """The stack's position after `run` (updated in place)."""
    now = run.finished_at
    state.last_result = run.result.value
    state.reason, state.message = run.reason, run.error_message
    state.last_duration_s = run.duration_s
    state.reconciling = False
    if error is not None and error.reason in _NEEDS_RECOVERY:
        state.needs_recovery = True
    if run.kind is RunKind.DRIFT:
        state.last_drift_check_at = now
        state.drifted = len(run.resources) if run.result in (Result.DRIFTED, Result.REMEDIATED) else 0
        if run.result is Result.REMEDIATED:
            state.last_applied_commit, state.last_applied_digest, state.last_applied_at = run.commit, run.config_digest, now
            state.outputs_digest = run.outputs_digest or state.outputs_digest
        return
    if run.kind is RunKind.RECOVER or run.commit is None:
        # Recovery, or the source, failed: no commit was attempted; try again after a delay.
        state.failures += 1
        state.retry_at = now + _delay(error, state.failures, retry, rng)
        return
    desired = (run.commit, run.config_digest)
    same_attempt = (state.last_attempted_commit, state.last_attempted_digest) == desired
    state.last_attempted_commit, state.last_attempted_digest = desired
    state.last_attempted_at = run.started_at
    if run.result in (Result.APPLIED, Result.REMEDIATED):
        state.last_applied_commit, state.last_applied_digest, state.last_applied_at = run.commit, run.config_digest, now
        state.outputs_digest = run.outputs_digest or state.outputs_digest
    if run.result.in_sync or run.result is Result.BLOCKED:
        _settle(state, desired, run.result)
        return
    if isinstance(error, Waiting):
        # Someone else holds the stack, or a prerequisite is not met: not this commit's failure. Without a delay
        # of its own, the next poll or trigger looks again.
        if not same_attempt:
            state.failures = 0
        state.retry_at = None if error.delay is None else now + error.delay
        return
    state.failures = state.failures + 1 if same_attempt else 1
    gave_up = isinstance(error, Temporary) and error.bounded and state.failures > program_retries
    if isinstance(error, Stalled) or gave_up:
        _settle(state, desired, Result.FAILED)
        return
    state.retry_at = now + _delay(error, state.failures, retry, rng)


def _settle(state: StackState, desired: tuple[Optional[str], Optional[str]], result: Result) -> None:
    state.settled_commit, state.settled_digest = desired
    state.settled_result = result.value
    state.retry_at = None
    if result is not Result.FAILED:
        state.failures = 0


def _delay(error: Optional[ReconcileError], failures: int, retry: RetryPolicy, rng: Optional[random.Random]) -> float:
    if error is not None and error.delay is not None:
        return error.delay
    return backoff(failures, retry, rng)


def is_settled(state: StackState) -> bool:
    """Nothing more is to be done for the desired state the stack last observed."""
    return (
        state.observed_commit is not None
        and (state.settled_commit, state.settled_digest) == (state.observed_commit, state.desired_digest)
    )


def conditions(state: StackState, now: float) -> list[Condition]:
    """Ready, Reconciling and Stalled for the state, keeping each one's transition time while its status holds."""
    settled = is_settled(state)
    in_sync = settled and state.settled_result in IN_SYNC_VALUES
    commit = (state.observed_commit or "-")[:12]
    if in_sync and state.last_result == Result.DRIFTED.value:
        ready = Condition(READY, False, "Drifted", state.message or f"{state.drifted} resource(s) drifted")
    elif in_sync:
        ready = Condition(READY, True, "ReconciliationSucceeded", f"applied {commit}")
    else:
        ready = Condition(READY, False, state.reason or "Progressing", state.message or f"{commit} is not applied yet")
    if state.reconciling:
        reconciling = Condition(RECONCILING, True, "Progressing", f"running {commit}")
    elif not settled and state.observed_commit is not None:
        reason = state.reason or "Progressing"
        reconciling = Condition(RECONCILING, True, reason, state.message or f"{commit} is due")
    else:
        reconciling = Condition(RECONCILING, False, "Settled", "")
    stalled_now = settled and state.settled_result in (Result.FAILED.value, Result.BLOCKED.value)
    stalled = Condition(
        STALLED, stalled_now, (state.reason or "Stalled") if stalled_now else "NotStalled",
        (state.message or "") + (" (waiting for a new commit or config change)" if stalled_now else ""),
    )
    fresh = [ready, reconciling, stalled]
    for condition in fresh:
        before = state.condition(condition.type)
        condition.last_transition_at = before.last_transition_at if before and before.status == condition.status else now
    return fresh
