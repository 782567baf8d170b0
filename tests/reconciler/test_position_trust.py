"""When a gate may act on a position published on a Lease (coordination/positions.py), and what goes in one.

The Leases here are plain values, as LeaseApi reads them; the same rules against the API server and real
reconcilers are test_published_positions.py.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Optional

import pytest

from reconciler.coordination.lease_api import Lease
from reconciler.coordination.positions import POSITION_ANNOTATION, decode, encode, trusted
from reconciler.promotion import position_of
from reconciler.status.model import READY, Condition, StackState

A = "a" * 40


def applied(**changes) -> StackState:
    state = StackState("dev", observed_commit=A, last_applied_commit=A, last_applied_at=100.0, settled_commit=A,
                       settled_result="applied", last_result="applied", conditions=[Condition(READY, True, "ReconciliationSucceeded", "", 90.0)])
    return dataclasses.replace(state, **changes)


def lease(holder: Optional[str], text: Optional[str]) -> Lease:
    annotations = {} if text is None else {POSITION_ANNOTATION: text}
    return Lease("reconciler-stack-dev", "stack", "dev", holder, 10.0, 0, "1", None, None, annotations=annotations)


def test_what_is_published_is_the_gates_position_and_reason_codes_never_a_message():
    state = applied(last_result="failed", reason="ProgramError", message="boom: token s3cr3t", settled_commit=None,
                    outputs_digest="0123456789abcdef0123")
    text = encode(state, "replica-1")

    assert "s3cr3t" not in text and "boom" not in text
    assert set(json.loads(text)) == {"replica", "reconciling", "commit", "since", "blocked", "ready", "ready_reason",
                                     "observed_commit", "last_result", "reason", "drifted", "outputs_digest"}
    published = decode(text)
    assert published.replica == "replica-1" and published.position == position_of(state)
    assert published.position.blocked == "its last run failed (ProgramError)"
    assert encode(state, "replica-1") == text, "the same position is the same text: not written again"
    assert published.position.outputs_digest == "0123456789abcdef0123", "a parent's units read it from here"


def test_a_position_published_by_an_older_replica_has_no_outputs_digest_and_is_still_read():
    data = json.loads(encode(applied(outputs_digest="0123456789abcdef0123"), "replica-1"))
    del data["outputs_digest"]

    published = decode(json.dumps(data))

    assert published.position.outputs_digest is None and published.position.commit == A


@pytest.mark.parametrize("holder, publisher, reconciling, lapsed, why", [
    ("r1", "r1", False, False, ""),
    ("r1", "r1", True, False, ""),  # a run in progress on a live holder: as the status store reads
    (None, "r1", False, True, ""),  # released with its final position
    (None, "r1", True, True, "r1 released it without recording the end of its last run"),
    ("r1", "r1", False, True, "its holder r1 stopped renewing its Lease"),
    ("r2", "r1", False, False, "its holder r2 has not recorded a pass of it yet"),
])
def test_a_position_is_trusted_only_from_its_live_or_releasing_publisher(holder, publisher, reconciling, lapsed, why):
    text = encode(dataclasses.replace(applied(), reconciling=reconciling), publisher)

    position = trusted(lease(holder, text), lapsed)

    assert position.unknown == why
    if not why:
        assert position == position_of(applied())


@pytest.mark.parametrize("text, why", [
    (None, "its holder r1 has not published its position yet"),
    ("", "its holder r1 has not published its position yet"),
    ("{not json", "the position on its Lease reconciler-stack-dev is unreadable"),
    ('{"replica": 7}', "the position on its Lease reconciler-stack-dev is unreadable"),
])
def test_no_or_an_unreadable_position_is_not_known_never_healthy(text, why):
    position = trusted(lease("r1", text), lapsed=False)

    assert position.unknown == why and position.commit is None and not position.ready


def test_no_lease_is_not_known():
    assert trusted(None, lapsed=False).unknown == "no replica has held it yet (it has no Lease)"
