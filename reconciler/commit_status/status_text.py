"""What a commit status says about a run: GitHub's state and a description of at most 140 characters.

success: the commit is what runs (applied, remediated, or a skip that leaves it so); failure: the commit
could not be applied or the live resources differ from it (failed, blocked, drifted); error: the run could
not tell, for a reason outside the commit (a backend or Git remote out of reach, a held lock, a killed run);
pending: a run started, or the stack waits for another one.
"""

from __future__ import annotations

from dataclasses import dataclass

from reconciler.errors import (
    BACKEND_UNREACHABLE,
    DEADLINE_EXCEEDED,
    INTERNAL_ERROR,
    INTERRUPTED,
    SOURCE_UNREACHABLE,
    WAITING_REASONS,
)
from reconciler.status.model import ChangeCounts, Result, RunKind, RunOutcome

DESCRIPTION_LIMIT = 140  # GitHub refuses a longer description
PENDING, SUCCESS, FAILURE, ERROR = "pending", "success", "failure", "error"
_STATES = {
    Result.APPLIED.value: SUCCESS,
    Result.REMEDIATED.value: SUCCESS,
    Result.SKIPPED.value: SUCCESS,
    Result.FAILED.value: FAILURE,
    Result.BLOCKED.value: FAILURE,
    Result.DRIFTED.value: FAILURE,
}
_NOT_THE_COMMITS_FAULT = frozenset({SOURCE_UNREACHABLE, BACKEND_UNREACHABLE, INTERRUPTED, DEADLINE_EXCEEDED, INTERNAL_ERROR})
_DONE = (("create", "created"), ("update", "updated"), ("replace", "replaced"), ("delete", "deleted"))
_TO_DO = (("create", "to create"), ("update", "to update"), ("replace", "to replace"), ("delete", "to delete"))


@dataclass(frozen=True)
class StatusText:
    state: str
    headline: str  # the result, its reason and its counts: two runs with the same headline say the same
    detail: str = ""  # the first line of the error, when there is one

    @property
    def description(self) -> str:
        text = f"{self.headline}: {self.detail}" if self.detail else self.headline
        return text if len(text) <= DESCRIPTION_LIMIT else text[: DESCRIPTION_LIMIT - 1] + "…"


APPLYING = StatusText(PENDING, "applying")


def recorded(run: RunOutcome) -> StatusText:
    result, reason = run.result.value, run.reason
    state = _STATES.get(result, ERROR)
    if state == FAILURE and reason in _NOT_THE_COMMITS_FAULT:
        state = ERROR
    if reason in WAITING_REASONS:  # a held lock, a promotion not due yet: the run is still to come
        state, result = PENDING, "waiting"
    detail = (run.error_message or "").strip().split("\n", 1)[0]
    if run.result is Result.DRIFTED:
        return StatusText(state, f"drifted: {len(run.resources)} resource(s) differ from the commit")
    if run.result is Result.SKIPPED:
        return StatusText(state, "in sync: no drift" if run.kind is RunKind.DRIFT else "skipped: nothing under the stack's paths changed")
    if run.result is Result.BLOCKED:
        return StatusText(state, f"blocked ({reason}): {_counts(run.changes, _TO_DO)}", detail)
    if state in (FAILURE, ERROR, PENDING):
        return StatusText(state, f"{result} ({reason})" if reason else result, detail)
    return StatusText(state, f"{result}: {_counts(run.changes, _DONE)}")


def _counts(changes: ChangeCounts, words: tuple[tuple[str, str], ...]) -> str:
    said = [f"{getattr(changes, op)} {word}" for op, word in words if getattr(changes, op)]
    return ", ".join(said) if said else "no changes"
