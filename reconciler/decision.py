"""Decide: given a stack's position and its desired state (branch head + config digest), what a pass runs now."""

from __future__ import annotations

from enum import Enum
from typing import Optional

from reconciler.settings import StackSpec
from reconciler.status.model import IN_SYNC_VALUES, Result, StackState


class Action(str, Enum):
    APPLY = "apply"
    DRIFT = "drift"


def drift_due_at(spec: StackSpec, state: StackState) -> Optional[float]:
    """When the next drift check is due; None when drift checks are off or nothing was applied yet."""
    if spec.drift_interval is None or state.last_applied_commit is None:
        return None
    # A fresh apply is as good as a drift check: count from whichever came last.
    baseline = max(state.last_drift_check_at or 0.0, state.last_applied_at or 0.0)
    return baseline + spec.drift_interval


def decide(spec: StackSpec, state: StackState, head: str, digest: str, now: float, force: bool = False) -> Optional[Action]:
    """APPLY a desired state that is not settled yet; DRIFT when it is settled and a check is due.

    A newer commit or config always wins: a desired state other than the last attempted one runs at once,
    whatever backoff the older one was in. `force` (a one-off pass) also re-checks a state that was
    settled by a failure, a block or drift, and does not wait out a retry delay, so its answer is current.
    """
    desired = (head, digest)
    if desired != (state.settled_commit, state.settled_digest):
        waiting = state.retry_at is not None and now < state.retry_at
        if waiting and desired == (state.last_attempted_commit, state.last_attempted_digest) and not force:
            return None
        return Action.APPLY
    if force and state.settled_result in (Result.FAILED.value, Result.BLOCKED.value):
        return Action.APPLY
    if force and state.last_result == Result.DRIFTED.value:
        return Action.DRIFT
    due = drift_due_at(spec, state)
    # Only a stack in sync with its desired state is checked for drift: a blocked or failed
    # one is not what the cluster should match.
    if due is not None and now >= due and state.settled_result in IN_SYNC_VALUES:
        return Action.DRIFT
    return None
