"""A run's outcome and a stack's position, as plain data."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional

from pr_preview.summary import ChangeCounts

RESULTS = ("applied", "skipped", "failed", "blocked", "drifted", "remediated")
# What `once` counts as "the stack is where Git says": a remediated stack was
# put back at its commit, so it ends in sync like an applied one.
IN_SYNC_RESULTS = ("applied", "skipped", "remediated")


@dataclass
class RunOutcome:
    stack: str
    commit: Optional[str]
    trigger: str
    kind: str  # "apply" or "drift"
    result: str
    started_at: float
    finished_at: float
    changes: ChangeCounts = field(default_factory=ChangeCounts)
    error_class: Optional[str] = None
    error_message: Optional[str] = None
    resources: list[dict[str, str]] = field(default_factory=list)  # {"urn", "op"}: changed, drifted or blocked

    @property
    def duration_s(self) -> float:
        return round(max(self.finished_at - self.started_at, 0.0), 3)

    def json_line(self) -> dict[str, Any]:
        """The `once --json` contract: exactly these keys."""
        return {
            "stack": self.stack,
            "commit": self.commit,
            "result": self.result,
            "changes": self.changes.as_dict(),
            "duration_s": self.duration_s,
            "error": self.error_message,
        }


@dataclass
class StackState:
    name: str
    observed_commit: Optional[str] = None
    observed_at: Optional[float] = None
    last_attempted_commit: Optional[str] = None
    last_attempted_at: Optional[float] = None
    last_applied_commit: Optional[str] = None
    last_applied_at: Optional[float] = None
    # The newest commit nothing more is to be done for: applied, skipped, or
    # refused for good (blocked, program error) until a newer commit arrives.
    settled_commit: Optional[str] = None
    settled_result: Optional[str] = None  # what settled it: applied, skipped, remediated, blocked or failed
    last_result: Optional[str] = None  # of the last run of any kind (a drift check included)
    last_error_class: Optional[str] = None
    last_run_id: Optional[int] = None
    last_duration_s: Optional[float] = None
    failures: int = 0
    retry_at: Optional[float] = None
    next_run_at: Optional[float] = None
    last_drift_check_at: Optional[float] = None
    drifted: int = 0
    encryption_salt: Optional[str] = None
