"""The one writer of a stack's state: runs as they start and end, the position they lead to, the conditions.

Every pass ends in `record` (the reconciler calls it from its one `finally`), success or not. Metrics
and the run's log line are written here too, so what /status, /metrics and the log say cannot differ. With
replicas, every position written is also published where the other replicas' gates read it (`publish`).
"""

from __future__ import annotations

import logging
import time
from typing import Callable, Optional, Sequence

from reconciler.errors import INTERRUPTED, ReconcileError
from reconciler.promotion import Position, position_of
from reconciler.run_events import RunListener
from reconciler.settings import RetryPolicy, StackSpec
from reconciler.status.model import Result, RunKind, RunOutcome, StackState
from reconciler.status.position import advance, conditions
from reconciler.status.store import StatusStore
from reconciler.telemetry.metrics import Metrics
from reconciler.telemetry.redaction import Redactor

log = logging.getLogger("reconciler")


class Recorder:
    def __init__(
        self, spec: StackSpec, store: StatusStore, metrics: Metrics, redactor: Redactor, retry: RetryPolicy,
        listeners: Sequence[RunListener] = (),
    ) -> None:
        self.spec = spec
        self.listeners = tuple(listeners)
        self.store = store
        self.metrics = metrics
        self.redactor = redactor
        self.retry = retry
        # Where the gates read other stacks' positions, and where this stack's goes once written: the status store,
        # and nowhere; a replica (coordination/replica.py) reads and publishes them on the stacks' Leases instead.
        self.read_position: Callable[[str], Position] = lambda stack: position_of(self.store.stack_state(stack))
        self.publish: Callable[[StackState], None] = lambda state: None

    def state(self) -> StackState:
        return self.store.stack_state(self.spec.name)

    def position_of(self, stack: str) -> Position:
        """Another stack's position (a promotion gate reads its upstream's, a unit's gate its parent's)."""
        return self.read_position(stack)

    def interrupted_runs(self) -> list[dict]:
        """Runs a dead process started and never ended."""
        return [dict(row) for row in self.store.unfinished_runs(self.spec.name)]

    def run_started(self, run: RunOutcome, observed: Optional[str], digest: str) -> int:
        """Writes the run's row before anything runs: a row left open tells the next start this run was cut short."""
        run_id = self.store.start_run(self.spec.name, run.commit, run.trigger, run.kind.value, run.started_at)
        state = self.state()
        state.observed_commit, state.desired_digest, state.reconciling = observed, digest, True
        state.conditions = conditions(state, time.time())
        self.store.save_state(state)
        self.publish(state)
        self._tell("run_started", run)
        return run_id

    def record(
        self,
        observed: Optional[str],
        digest: str,
        run: Optional[RunOutcome],
        run_id: Optional[int],
        error: Optional[ReconcileError],
        interrupted: list[dict],
        recovered: Optional[str],
    ) -> StackState:
        now = time.time()
        self.metrics.polls.labels(self.spec.name).inc()
        state = self.state()
        if observed is not None:
            state.observed_commit, state.observed_at = observed, now
        state.desired_digest = digest
        state.reconciling = False
        if recovered is not None:
            # What the interrupted run changed is unknown: nothing counts as settled until the head is applied.
            state.needs_recovery, state.retry_at, state.settled_commit = False, None, None
            self._close_interrupted(interrupted, recovered, now)
        if run is None:
            state.conditions = conditions(state, now)
            self.store.save_state(state)
            self.publish(state)
            self.metrics.set_state(state)
            return state
        run.finished_at = now
        run.error_message = self.redactor.redact(run.error_message)
        run.resources = self.redactor.redact_data(run.resources)
        advance(state, run, error, self.spec.program_retries, self.retry)
        state.conditions = conditions(state, now)
        if run_id is None:
            run_id = self.store.start_run(self.spec.name, run.commit, run.trigger, run.kind.value, run.started_at)
        self.store.finish_run(run_id, run, state)
        self.publish(state)
        self.metrics.record(run)
        self.metrics.set_state(state)
        if run.result.in_sync and run.commit:
            self.metrics.set_commit(self.spec.name, run.commit)
        self._log(run)
        self._tell("run_recorded", run, state)
        return state

    def _tell(self, event: str, *args: object) -> None:
        # The state is written already: a listener that fails is logged and never changes the pass.
        for listener in self.listeners:
            try:
                getattr(listener, event)(self.spec, *args)
            except Exception as error:  # noqa: BLE001 - a listener's fault must not fail a reconcile
                log.warning("%s: %s %s failed: %s", self.spec.name, type(listener).__name__, event,
                            self.redactor.redact(str(error)), extra={"stack": self.spec.name})

    def _close_interrupted(self, rows: list[dict], recovered: str, now: float) -> None:
        for row in rows:
            outcome = RunOutcome(
                self.spec.name, row["commit_sha"], row["trigger"], RunKind(row["kind"]), Result.FAILED,
                row["started_at"], now, reason=INTERRUPTED,
                error_message=f"the reconciler stopped during this run (killed or crashed); at the next start {recovered}",
            )
            self.store.finish_run(row["id"], outcome)

    def remember_salt(self, salt: str) -> None:
        self.store.update_state(self.spec.name, encryption_salt=salt)

    def scheduled(self, at: float) -> None:
        self.store.update_state(self.spec.name, next_run_at=at)

    def _log(self, run: RunOutcome) -> None:
        fields = {"stack": self.spec.name, "commit": run.commit, "result": run.result.value, "reason": run.reason,
                  "changes": run.changes.as_dict()}
        level = logging.INFO if run.result.in_sync else logging.WARNING
        message = f": {run.error_message}" if run.error_message else ""
        log.log(level, "%s %s: %s in %.1fs%s", run.kind.value, (run.commit or "-")[:12], run.result.value,
                run.duration_s, message, extra=fields)
