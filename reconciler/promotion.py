"""Promotion gates: a stack with `promote_from` applies its head only after the upstream stack applied it and soaked.

The gate only decides, from the upstream's Position and one question to git (does the commit the upstream is
at contain this head?). A Position is read from the status store, or, with replicas, from what the upstream's
holder published on its Lease (coordination/positions.py). "Contains" rather than "equals": stacks on different
branches of one repository (main and release) never share a head, but a release commit that main already
holds has run upstream. Until the gate opens, the pass ends Waiting with reason PromotionPending: after the
soak's time left when only the soak is missing, else at the next poll or when the upstream records a run.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Callable, Optional, Sequence

from reconciler.errors import PROMOTION_PENDING, WAITING_REASONS, Waiting
from reconciler.settings import StackSpec
from reconciler.settings.durations import format_duration
from reconciler.status.model import IN_SYNC_VALUES, READY, STALLED, Result, StackState
from reconciler.status.position import is_settled

# contains(commit, descendant): whether `descendant` is `commit` or has it in its history.
Contains = Callable[[str, str], bool]


@dataclass(frozen=True)
class Position:
    """What a gate needs of an upstream stack, and nothing more (it is published to other replicas)."""

    commit: Optional[str]  # the commit it is in sync with (upstream_commit)
    since: float  # when its soak started (healthy_since)
    blocked: str  # why it blocks every promotion now, "" when nothing does
    ready: bool
    ready_reason: str  # Ready's reason, or why there is none
    unknown: str = ""  # why the position is not known here (then nothing else counts): the gate waits
    outputs_digest: Optional[str] = None  # a parent's: what its units read of its outputs (desired_state.py)


def position_of(state: StackState) -> Position:
    ready = state.condition(READY)
    return Position(
        commit=upstream_commit(state), since=healthy_since(state), blocked=_blocked(state),
        ready=ready is not None and ready.status, ready_reason=ready.reason if ready is not None else "it has not run yet",
        outputs_digest=state.outputs_digest,
    )


def pending(
    spec: StackSpec, head: str, upstream: Position, contains: Contains, now: float, verb: str = "promoted",
) -> Optional[Waiting]:
    """None when `head` may be applied now; else the Waiting that names the upstream and what is missing (and says
    the head is `verb` once it is there: a unit's gate says applied)."""
    name = spec.promote_from
    assert name is not None, "only a stack with promote_from has a gate"
    if upstream.unknown:
        return Waiting(PROMOTION_PENDING, f"waiting for {name}: {upstream.unknown}; {head[:12]} is {verb} once its position is known")
    unhealthy = upstream.blocked or _not_ready(upstream, spec.require_healthy)
    if unhealthy:
        return Waiting(PROMOTION_PENDING, f"waiting for {name}: {unhealthy}; {head[:12]} is {verb} once {name} is healthy again")
    at = upstream.commit
    if at is None:
        return Waiting(PROMOTION_PENDING, f"waiting for {name} to apply {head[:12]}: it has applied nothing yet")
    if at != head and not contains(head, at):
        return Waiting(PROMOTION_PENDING, f"waiting for {name} to apply {head[:12]}: it is at {at[:12]}, which does not contain it")
    ends = upstream.since + spec.soak
    if now < ends:
        left = ends - now
        return Waiting(
            PROMOTION_PENDING,
            f"waiting for {name}'s soak of {format_duration(spec.soak)}: it is at {at[:12]} since {_clock(ends - spec.soak)}; "
            f"{head[:12]} is {verb} at {_clock(ends)}, {format_duration(math.ceil(left))} left",
            delay=left,
        )
    return None


def upstream_commit(upstream: StackState) -> Optional[str]:
    """The commit the upstream is in sync with: its settled one when it ended in sync (a commit its `paths` filter
    skipped counts: nothing it deploys changed), else the one it applied last."""
    if upstream.settled_result in IN_SYNC_VALUES and upstream.settled_commit:
        return upstream.settled_commit
    return upstream.last_applied_commit


def healthy_since(upstream: StackState) -> float:
    """When the upstream's soak started: its last apply, or when it last became Ready if that came later (a
    drift repaired by hand, a skipped commit). A newer apply upstream starts the soak again."""
    applied_at = upstream.last_applied_at or 0.0
    ready = upstream.condition(READY)
    return max(applied_at, ready.last_transition_at) if ready is not None and ready.status else applied_at


def _blocked(upstream: StackState) -> str:
    """Why the upstream blocks every promotion now ("" when nothing does): stalled, interrupted, drifted, failing.
    Built from reason codes only (never a run's message): it is published to other replicas."""
    stalled = upstream.condition(STALLED)
    if stalled is not None and stalled.status:
        return f"it is stalled ({stalled.reason})"
    if upstream.needs_recovery and upstream.reason not in WAITING_REASONS:  # killed or past its deadline, not locked
        return "its last run did not finish (it recovers at its next pass)"
    if upstream.last_result == Result.DRIFTED.value:
        return f"{upstream.drifted} resource(s) drifted there"
    # Failing on its head. A failure that left its head settled (the remote unreachable for a poll) changed nothing there.
    if upstream.last_result == Result.FAILED.value and upstream.reason not in WAITING_REASONS and not is_settled(upstream):
        return f"its last run failed ({upstream.reason})"
    return ""


def _not_ready(upstream: Position, require_healthy: bool) -> str:
    if require_healthy and not upstream.ready:
        return f"it is not Ready ({upstream.ready_reason}) and require_healthy is set"
    return ""


def downstreams(specs: Sequence[StackSpec]) -> dict[str, list[str]]:
    """Each upstream's stacks that promote from it, to be looked at as soon as it records a run."""
    found: dict[str, list[str]] = {}
    for spec in specs:
        if spec.promote_from is not None:
            found.setdefault(spec.promote_from, []).append(spec.name)
    return found


def waves(specs: Sequence[StackSpec]) -> list[list[str]]:
    """The stacks in promotion order: every stack's upstream (when among them) is in an earlier wave, so one
    `once` over a chain without soak promotes each commit down the whole chain (the config has no cycles)."""
    by_name = {spec.name: spec for spec in specs}

    def depth(name: str) -> int:
        upstream = by_name[name].promote_from
        return 0 if upstream not in by_name else 1 + depth(upstream)

    found: dict[int, list[str]] = {}
    for spec in specs:
        found.setdefault(depth(spec.name), []).append(spec.name)
    return [found[level] for level in sorted(found)]


def _clock(moment: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(moment))
