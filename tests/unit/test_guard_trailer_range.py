"""An `Allow-Deletes: M` trailer counts only on the commits since the last applied one, up to the head being
applied (reconciler/README.md, "Deletion guard")."""

from __future__ import annotations

from typing import Optional

from reconciler.engine.operations import PreviewReport
from reconciler.status.model import ChangeCounts

A, B = "a" * 40, "b" * 40


def test_the_trailer_is_read_from_the_last_applied_commit_to_the_head(scripted):
    stack = scripted(deletion_guard=0)
    stack.reconciler.reconcile("poll")  # A applied
    asked: list[tuple[Optional[str], str]] = []

    def allowed_deletes(old: Optional[str], new: str) -> Optional[int]:
        asked.append((old, new))
        return 2 if (old, new) == (A, B) else None

    stack.workspace.allowed_deletes = allowed_deletes
    stack.workspace.head = B
    stack.workspace.script("preview", PreviewReport(ChangeCounts(delete=2)))

    done = stack.reconciler.reconcile("poll")

    assert asked == [(A, B)]
    assert done.outcome.result.value == "applied"
