"""How a finished run moves a stack's position: what is applied, what is settled, when to retry."""

from __future__ import annotations

from typing import Optional

from reconciler.policy.backoff import retry_delay
from reconciler.policy.classification import Classification
from reconciler.settings import RetryPolicy

from .model import RunOutcome, StackState

IN_SYNC = ("applied", "remediated", "skipped")
# Results that settle a commit: nothing more is tried until a newer commit arrives.
SETTLING = (*IN_SYNC, "blocked")


def advance(
    state: StackState,
    outcome: RunOutcome,
    classification: Optional[Classification],
    retry: RetryPolicy,
    resync_interval: float,
) -> StackState:
    """The stack's position after `outcome` (state is the position the run started from; it is updated in place)."""
    head, now = outcome.commit, outcome.finished_at
    state.last_result = outcome.result
    state.last_error_class = outcome.error_class
    state.last_duration_s = outcome.duration_s
    if outcome.kind == "drift":
        state.last_drift_check_at = now
        state.drifted = len(outcome.resources) if outcome.result in ("drifted", "remediated") else 0
        if outcome.result not in ("remediated", "blocked"):
            # A drift check that only looked (or failed to) leaves the commit's standing as it was.
            return state
    previous_attempt = state.last_attempted_commit
    state.last_attempted_commit, state.last_attempted_at = head, outcome.started_at
    if outcome.result in ("applied", "remediated"):
        state.last_applied_commit, state.last_applied_at = head, now
    if outcome.result in SETTLING:
        state.settled_commit, state.settled_result = head, outcome.result
        state.failures, state.retry_at = 0, None
        return state
    state.failures = state.failures + 1 if previous_attempt == head else 1
    delay = retry_delay(classification, state.failures, retry, resync_interval) if classification else None
    if delay is None:
        state.settled_commit, state.settled_result, state.retry_at = head, "failed", None
    else:
        state.retry_at = now + delay
    return state
