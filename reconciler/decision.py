"""Decide: given a stack's position and its branch head, what (if anything) a reconcile runs now."""

from __future__ import annotations

from enum import Enum
from typing import Optional

from reconciler.settings import StackSpec
from reconciler.status.model import StackState


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


def decide(spec: StackSpec, state: StackState, head: str, now: float, force: bool = False) -> Optional[Action]:
    """APPLY a head that is not settled yet; DRIFT when the head is settled and a check is due.

    A newer commit always wins: a head other than the last attempted one runs
    at once, whatever backoff the older one was in. `force` (a one-off pass)
    also re-checks a head that was settled by a failure, a block or drift, so
    its answer is current.
    """
    if head != state.settled_commit:
        waiting = state.retry_at is not None and now < state.retry_at
        if waiting and head == state.last_attempted_commit and not force:
            return None
        return Action.APPLY
    if force and state.settled_result in ("failed", "blocked"):
        return Action.APPLY
    if force and state.last_result == "drifted":
        return Action.DRIFT
    due = drift_due_at(spec, state)
    # Only a stack in sync with its head is checked for drift: a blocked or failed
    # head is not what the cluster should match.
    if due is not None and now >= due and state.settled_result in ("applied", "skipped", "remediated"):
        return Action.DRIFT
    return None
