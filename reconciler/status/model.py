"""A run's outcome and a stack's status, as plain data in the platform's words.

Results (the `once --json` contract) say what a run ended with; conditions (Ready, Reconciling, Stalled, as
Flux and the Pulumi Kubernetes Operator write them) say where the stack stands now, each with a reason.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Mapping, Optional

COUNTED_OPERATIONS = ("create", "update", "replace", "delete", "same")


@dataclass(frozen=True)
class ChangeCounts:
    """Resources per operation: of a preview, of an update, or of what a drift check found (the reconciler's too)."""

    create: int = 0
    update: int = 0
    replace: int = 0
    delete: int = 0
    same: int = 0

    @classmethod
    def from_op_map(cls, op_map: Optional[Mapping[Any, int]]) -> "ChangeCounts":
        """From the engine's `resourceChanges` / `PreviewResult.change_summary` (keys are op names or OpType)."""
        counts = {str(getattr(op, "value", op)): n for op, n in (op_map or {}).items()}
        return cls(**{op: int(counts.get(op, 0)) for op in COUNTED_OPERATIONS})

    def as_dict(self) -> dict[str, int]:
        return {op: getattr(self, op) for op in COUNTED_OPERATIONS}

    @property
    def changes(self) -> int:
        return self.create + self.update + self.replace + self.delete

    def then(self, later: "ChangeCounts") -> "ChangeCounts":
        """Two operations in a row: their changes add up; `same` is what the later one left alone."""
        return ChangeCounts(self.create + later.create, self.update + later.update, self.replace + later.replace,
                            self.delete + later.delete, later.same)


class Result(str, Enum):
    APPLIED = "applied"
    SKIPPED = "skipped"
    FAILED = "failed"
    BLOCKED = "blocked"
    DRIFTED = "drifted"
    REMEDIATED = "remediated"

    @property
    def in_sync(self) -> bool:
        """The stack is where Git says: a remediated stack was put back at its commit, like an applied one."""
        return self in (Result.APPLIED, Result.SKIPPED, Result.REMEDIATED)


# The same set as stored text (the status store and conditions hold result values).
IN_SYNC_VALUES = frozenset(result.value for result in Result if result.in_sync)


class RunKind(str, Enum):
    APPLY = "apply"
    DRIFT = "drift"
    RECOVER = "recover"  # releasing a dead run's lock and clearing its pending operations


@dataclass
class RunOutcome:
    stack: str
    commit: Optional[str]
    trigger: str
    kind: RunKind
    result: Result
    started_at: float
    finished_at: float
    changes: ChangeCounts = field(default_factory=ChangeCounts)
    reason: Optional[str] = None  # why it did not apply: an errors.* reason
    error_message: Optional[str] = None
    resources: list[dict[str, str]] = field(default_factory=list)  # {"urn", "op"}: changed, drifted or blocked
    config_digest: Optional[str] = None
    outputs_digest: Optional[str] = None  # a parent's: the digest of the outputs its units read, after the update

    @property
    def duration_s(self) -> float:
        return round(max(self.finished_at - self.started_at, 0.0), 3)

    def json_line(self) -> dict[str, Any]:
        """The `once --json` contract: these keys, `result` one of the Result values; `reason` added."""
        return {
            "stack": self.stack,
            "commit": self.commit,
            "result": self.result.value,
            "reason": self.reason,
            "changes": self.changes.as_dict(),
            "duration_s": self.duration_s,
            "error": self.error_message,
        }


READY, RECONCILING, STALLED = "Ready", "Reconciling", "Stalled"


@dataclass
class Condition:
    type: str  # Ready, Reconciling or Stalled
    status: bool
    reason: str
    message: str = ""
    last_transition_at: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {"type": self.type, "status": "True" if self.status else "False", "reason": self.reason,
                "message": self.message, "lastTransitionTime": self.last_transition_at}


@dataclass
class StackState:
    name: str
    observed_commit: Optional[str] = None
    observed_at: Optional[float] = None
    # Desired state is a commit and the digest of the stack's config overrides: either changing triggers a run.
    desired_digest: Optional[str] = None
    last_attempted_commit: Optional[str] = None
    last_attempted_digest: Optional[str] = None
    last_attempted_at: Optional[float] = None
    last_applied_commit: Optional[str] = None
    last_applied_digest: Optional[str] = None
    last_applied_at: Optional[float] = None
    # The newest desired state nothing more is to be done for: in sync, or refused for good (blocked,
    # stalled) until the commit or the config changes.
    settled_commit: Optional[str] = None
    settled_digest: Optional[str] = None
    settled_result: Optional[str] = None
    last_result: Optional[str] = None  # of the last run of any kind (a drift check included)
    reason: Optional[str] = None
    message: Optional[str] = None
    last_run_id: Optional[int] = None
    last_duration_s: Optional[float] = None
    failures: int = 0
    retry_at: Optional[float] = None
    next_run_at: Optional[float] = None
    last_drift_check_at: Optional[float] = None
    drifted: int = 0
    # A run of this stack's engine ended without finishing (killed, crashed, past its deadline), or its lock
    # was found held: the next pass inspects the lock and the pending operations first.
    needs_recovery: bool = False
    reconciling: bool = False
    conditions: list[Condition] = field(default_factory=list)
    encryption_salt: Optional[str] = None
    # A stack with units: the digest of the outputs they read, as its last update left them (units/ runs them on a change).
    outputs_digest: Optional[str] = None

    def condition(self, kind: str) -> Optional[Condition]:
        return next((c for c in self.conditions if c.type == kind), None)
