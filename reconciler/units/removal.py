"""Removing a unit whose folder is gone from Git: its stack is destroyed, then removed, only through the deletion guard.

The guard's rule is the one for deletions inside a stack (policy/deletion_guard.py): with the parent's
`deletion_guard` set, destroying more resources than it allows needs an `Allow-Deletes: N` trailer in the
commits since the unit was last applied. Blocked, the stack stays and its status says what the trailer must
hold; a newer commit is judged again.
"""

from __future__ import annotations

import logging
import time
from typing import Callable, Optional

from reconciler.errors import DELETION_GUARD, INTERNAL_ERROR, ReconcileError, Temporary
from reconciler.policy.deletion_guard import judge
from reconciler.reconcile import Pass
from reconciler.recorder import Recorder
from reconciler.status.model import Result, RunKind, RunOutcome
from reconciler.telemetry.redaction import Redactor

from .workspace import UnitWorkspace

log = logging.getLogger("reconciler")


class UnitRemoval:
    def __init__(self, workspace: UnitWorkspace, recorder: Recorder, redactor: Redactor, on_removed: Callable[[], None]) -> None:
        self.workspace = workspace
        self.recorder = recorder
        self.redactor = redactor
        self._on_removed = on_removed
        # Raises before the destroy when this process may not write the stack now (a replica's Lease).
        self.before_destroy: Callable[[], None] = lambda: None

    def run(self, trigger: str, removed_at: str, digest: str) -> Pass:
        spec = self.workspace.spec
        state = self.recorder.state()
        head: Optional[str] = None
        run: Optional[RunOutcome] = None
        run_id: Optional[int] = None
        error: Optional[ReconcileError] = None
        removed = False
        try:
            head = self.workspace.find_head()
            # Blocked at this head already: only a newer commit (a trailer) can allow it.
            if (state.settled_commit, state.settled_result) != (head, Result.BLOCKED.value):
                run = _outcome(spec.name, head, trigger, digest)
                run_id = self.recorder.run_started(run, head, digest)
                removed = self._remove(run, head, removed_at, state.last_applied_commit)
        except ReconcileError as failure:
            error = failure
        except Exception as failure:  # noqa: BLE001 - a bug must still be recorded, never lost
            log.exception("unexpected error removing %s", spec.name, extra={"stack": spec.name})
            error = Temporary(INTERNAL_ERROR, f"{type(failure).__name__}: {failure}")
        finally:
            if error is not None:
                run = run or _outcome(spec.name, head, trigger, digest)
                run.result, run.reason = Result.FAILED, error.reason
                run.error_message = self.redactor.redact(f"removing the unit's stack: {error.message}")
            state = self.recorder.record(head, digest, run, run_id, error, [], None)
        if removed:
            self._on_removed()
            # Last, after the recorder wrote this run's metrics: a removed unit's series stay out of /metrics.
            self.recorder.metrics.forget(spec.name)
        return Pass(run, spec.resync_interval, state)

    def _remove(self, run: RunOutcome, head: str, removed_at: str, last_applied: Optional[str]) -> bool:
        """Destroys and removes the stack when the guard allows it (True); else records the block."""
        spec = self.workspace.spec
        self.workspace.check_out(head)
        self.workspace.prepare(spec)
        doomed = self.workspace.destroy_preview(head)
        trailer = self.workspace.allowed_deletes(last_applied, head)
        verdict = judge(len(doomed), 0, spec.deletion_guard, trailer)
        gone = f"unit {spec.unit.unit if spec.unit else spec.name} is no longer in the plan at {removed_at[:12]}"
        if not verdict.allowed:
            run.result, run.reason, run.resources = Result.BLOCKED, DELETION_GUARD, doomed
            run.error_message = f"{gone}: removing its stack {spec.stack}: {verdict.reason}; until then the stack stays"
            return False
        self.before_destroy()
        log.warning("%s: destroying its stack %s (%d resource(s))", gone, spec.stack, len(doomed), extra={"stack": spec.name})
        report = self.workspace.destroy(head)
        run.result, run.changes, run.resources = Result.APPLIED, report.changes, report.resources
        return True


def _outcome(stack: str, head: Optional[str], trigger: str, digest: str) -> RunOutcome:
    now = time.time()
    return RunOutcome(stack, head, trigger, RunKind.APPLY, Result.FAILED, now, now, config_digest=digest)
