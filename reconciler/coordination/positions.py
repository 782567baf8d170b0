"""Each stack's position as its holder publishes it on the stack's Lease, where every replica's gates read it.

Every replica keeps its own status store, so its record of a stack another replica holds is stale or missing:
under coordination a gate reads the upstream's Lease instead (annotation `reconciler.gitops/position`, JSON).
The holder writes it each time it records the stack (a run starting, a run ending, a pass with nothing to do),
in a renewal of the Lease (carrying its resourceVersion, so a replica that lost the Lease cannot overwrite the
new holder's); every later renewal and the release carry the latest one, and a claim clears it.

A reader trusts a position only while its publisher holds the Lease (not lapsed in the reader's eyes), or once
the publisher released it (a release carries its final position). Anything else is "not known yet", never
healthy: no Lease, no position, an unreadable one, a holder that has not recorded the stack yet, a lapsed holder.
Only reason codes go in it, never a run's message.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Optional

from reconciler.coordination.lease_api import Lease
from reconciler.promotion import Position, position_of
from reconciler.status.model import StackState

POSITION_ANNOTATION = "reconciler.gitops/position"


@dataclass(frozen=True)
class Published:
    replica: str  # who published it
    reconciling: bool  # a run had started and its end was not recorded yet
    position: Position


def encode(state: StackState, replica: str) -> str:
    """The same text for the same position (no time of writing in it), so an unchanged one is not written again."""
    position = position_of(state)
    return json.dumps({
        "replica": replica, "reconciling": state.reconciling,
        "commit": position.commit, "since": position.since, "blocked": position.blocked,
        "ready": position.ready, "ready_reason": position.ready_reason, "outputs_digest": position.outputs_digest,
        # Not read by the gates; there for whoever looks at the Lease (kubectl get lease -o yaml).
        "observed_commit": state.observed_commit, "last_result": state.last_result, "reason": state.reason,
        "drifted": state.drifted,
    }, sort_keys=True)


def decode(text: str) -> Published:
    """Raises ValueError (or KeyError, TypeError) on anything but what `encode` writes."""
    data = json.loads(text)
    commit = data["commit"]
    if not isinstance(data["replica"], str) or not (commit is None or isinstance(commit, str)):
        raise ValueError("replica and commit must be strings")
    outputs = data.get("outputs_digest")  # absent from what a replica of an older version publishes
    position = Position(commit=commit, since=float(data["since"]), blocked=str(data["blocked"]),
                        ready=data["ready"] is True, ready_reason=str(data["ready_reason"]),
                        outputs_digest=outputs if isinstance(outputs, str) else None)
    return Published(data["replica"], data["reconciling"] is True, position)


def trusted(lease: Optional[Lease], lapsed: bool) -> Position:
    """The position a gate may act on; `lapsed`: the Lease has lapsed in this replica's eyes."""
    if lease is None:
        return unknown("no replica has held it yet (it has no Lease)")
    text = lease.annotations.get(POSITION_ANNOTATION, "")
    if not text:
        return unknown(f"its holder {lease.holder or '(none)'} has not published its position yet")
    try:
        published = decode(text)
    except (ValueError, KeyError, TypeError):
        return unknown(f"the position on its Lease {lease.name} is unreadable")
    if lease.holder is not None and lease.holder != published.replica:
        return unknown(f"its holder {lease.holder} has not recorded a pass of it yet")
    if lease.holder is not None and lapsed:
        return unknown(f"its holder {lease.holder} stopped renewing its Lease")
    if lease.holder is None and published.reconciling:
        return unknown(f"{published.replica} released it without recording the end of its last run")
    return published.position


def unknown(why: str) -> Position:
    return Position(commit=None, since=0.0, blocked="", ready=False, ready_reason=why, unknown=why)
