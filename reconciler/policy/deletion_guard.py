"""The deletion guard: a preview that deletes or replaces more than a stack allows needs a commit that says so."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional


@dataclass(frozen=True)
class GuardVerdict:
    allowed: bool
    doomed: int  # deletes + replaces in the preview
    threshold: Optional[int]
    trailer: Optional[int]  # the largest Allow-Deletes: N among the new commits

    @property
    def reason(self) -> str:
        if self.allowed:
            return ""
        return (
            f"the preview deletes or replaces {self.doomed} resource(s), over this stack's deletion guard of "
            f"{self.threshold}; commit with the trailer `Allow-Deletes: {self.doomed}` to allow it"
        )


def judge(deletes: int, replaces: int, threshold: Optional[int], trailer: Optional[int]) -> GuardVerdict:
    doomed = deletes + replaces
    allowed = threshold is None or doomed <= threshold or (trailer is not None and trailer >= doomed)
    return GuardVerdict(allowed=allowed, doomed=doomed, threshold=threshold, trailer=trailer)
