"""One reconcile of one stack, as a short list of named steps: fetch source, decide, apply (or check drift), record.

The record step always runs, whatever happened before it.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from pulumi import automation as auto

from reconciler.decision import Action, decide, drift_due_at
from reconciler.deletion_guard_step import guard
from reconciler.engine import operations
from reconciler.engine.operations import EngineReport, OperationFailed
from reconciler.engine.recovery import release_and_clear
from reconciler.engine.stack_session import StackSession
from reconciler.policy.backoff import retry_delay
from reconciler.policy.classification import INTERRUPTED, Classification, classify
from reconciler.settings import RetryPolicy, StackSpec
from reconciler.source.checkout import StackCheckout
from reconciler.source.git_command import GitError
from reconciler.source.remote_head import BranchMissingError, find_head
from pr_preview.summary import ChangeCounts
from reconciler.status.model import RunOutcome, StackState
from reconciler.status.position import advance
from reconciler.status.store import StatusStore
from reconciler.telemetry.metrics import Metrics
from reconciler.telemetry.redaction import Redactor

log = logging.getLogger("reconciler")
MAX_LISTED_RESOURCES = 20


@dataclass
class Pass:
    """What one call of reconcile() did: the run it recorded (None when nothing was due) and when to look again."""

    outcome: Optional[RunOutcome]
    next_in: float


class StackReconciler:
    def __init__(
        self,
        spec: StackSpec,
        state_dir: Path,
        store: StatusStore,
        redactor: Redactor,
        metrics: Metrics,
        retry: RetryPolicy,
        pulumi_command: auto.PulumiCommand,
    ) -> None:
        self.spec = spec
        self.store = store
        self.redactor = redactor
        self.metrics = metrics
        self.retry = retry
        self.checkout = StackCheckout(spec, state_dir / "workspaces" / spec.name)
        self._pulumi_command = pulumi_command
        self._session: Optional[StackSession] = None
        # Never two runs of one stack at once, whoever asks (poll, webhook, once).
        self._lock = threading.Lock()

    @property
    def session(self) -> StackSession:
        if self._session is None:
            self._session = StackSession(
                self.spec, self.checkout.project_path, self._pulumi_command, self.redactor,
                remembered_salt=lambda: self.store.stack_state(self.spec.name).encryption_salt,
                remember_salt=lambda salt: self.store.update_state(self.spec.name, encryption_salt=salt),
            )
        return self._session

    def _fields(self, commit: Optional[str] = None) -> dict:
        return {"stack": self.spec.name, "commit": commit}

    # The pass

    def reconcile(self, trigger: str, force: bool = False) -> Pass:
        with self._lock:
            return self._reconcile(trigger, force)

    def _reconcile(self, trigger: str, force: bool) -> Pass:
        if not self._recover_if_interrupted():
            return Pass(None, self.retry.unreachable_delay)
        started = time.time()
        state = self.store.stack_state(self.spec.name)
        self.metrics.polls.labels(self.spec.name).inc()
        try:
            head = find_head(self.spec)
        except (GitError, BranchMissingError) as error:
            return self._source_failed(trigger, error, started)
        self.store.update_state(self.spec.name, observed_commit=head, observed_at=started)

        action = decide(self.spec, state, head, started, force=force)
        if action is None:
            return Pass(None, self._next_in(self.store.stack_state(self.spec.name), started, None))
        outcome = self._run(action, head, trigger, state)
        new_state = self.store.stack_state(self.spec.name)
        return Pass(outcome, self._next_in(new_state, time.time(), new_state.retry_at))

    def _next_in(self, state: StackState, now: float, retry_at: Optional[float]) -> float:
        moments = [now + self.spec.resync_interval]
        if retry_at is not None:
            moments.append(retry_at)
        due = drift_due_at(self.spec, state)
        if due is not None:
            moments.append(due)
        return max(min(moments) - now, 0.0)

    def _run(self, action: Action, head: str, trigger: str, state: StackState) -> RunOutcome:
        started = time.time()
        run_id = self.store.start_run(self.spec.name, head, trigger, action.value, started)
        outcome = RunOutcome(self.spec.name, head, trigger, action.value, "failed", started, started)
        classification: Optional[Classification] = None
        log.info("%s %s (%s)", action.value, head[:12], trigger, extra=self._fields(head))
        try:
            self._check_out(head)
            if action is Action.APPLY:
                self._apply(outcome, state, head)
            else:
                self._check_drift(outcome, state, head)
        except Exception as error:  # noqa: BLE001 - every failure is classified and recorded
            classification = self._failed(outcome, error)
        finally:
            outcome.finished_at = time.time()
            self._record(run_id, outcome, classification)
        return outcome

    # Steps

    def _check_out(self, head: str) -> None:
        self.checkout.fetch(head)
        self.checkout.check_out(head)

    def _apply(self, outcome: RunOutcome, state: StackState, head: str, refresh: bool = False) -> None:
        last = state.last_applied_commit
        if self.spec.paths and last and not refresh and not self.checkout.touches(last, head, self.spec.paths):
            outcome.result = "skipped"
            log.info("nothing under %s changed since %s: skipped", ", ".join(self.spec.paths), last[:12], extra=self._fields(head))
            return
        self.session.prepare()
        settled = EngineReport(ChangeCounts())
        # A stack without a guard goes straight to `up` (as `pulumi up --skip-preview`):
        # its preview would only run the program once more for nobody to read.
        if self.spec.deletion_guard is not None:
            guarded = guard(self.session, self.checkout, self.redactor, state.last_applied_commit, head, refresh)
            outcome.changes, settled = guarded.changes, guarded.settled
            if not guarded.verdict.allowed:
                outcome.result = "blocked"
                outcome.error_class = "deletion_guard"
                outcome.resources = guarded.doomed
                outcome.error_message = guarded.verdict.reason + _listing(guarded.doomed)
                log.warning("blocked: %s", outcome.error_message, extra=self._fields(head))
                return
        applied = operations.up(self.session, head, self.redactor, refresh=refresh)
        outcome.changes = settled.changes.then(applied.changes)
        outcome.resources = settled.resources + applied.resources
        outcome.result = "remediated" if refresh else "applied"

    def _check_drift(self, outcome: RunOutcome, state: StackState, head: str) -> None:
        self.session.prepare()
        report = operations.drift(self.session, head, self.redactor)
        outcome.changes = report.changes
        drifted = report.resources
        if not drifted:
            outcome.result = "skipped"
            return
        log.warning("%d resource(s) drifted", len(drifted), extra=self._fields(head))
        if self.spec.auto_remediate:
            self._apply(outcome, state, head, refresh=True)
            if outcome.result == "remediated":
                outcome.resources = drifted
            return
        outcome.result = "drifted"
        outcome.resources = drifted
        outcome.error_message = (
            f"{len(drifted)} resource(s) differ from the stack's state; turn on auto_remediate "
            "or push a commit to restore them" + _listing(drifted)
        )

    def _failed(self, outcome: RunOutcome, error: BaseException) -> Classification:
        cause = error.cause if isinstance(error, OperationFailed) else error
        classification = classify(cause, backend_reachable=self.session.backend_reachable)
        outcome.result = "failed"
        outcome.error_class = classification.error_class
        message = error.message if isinstance(error, OperationFailed) else f"{type(error).__name__}: {error}"
        outcome.error_message = self.redactor.redact(message)
        log.error("%s: %s", classification.error_class, outcome.error_message, extra=self._fields(outcome.commit),
                  exc_info=classification.error_class == "internal_error")
        return classification

    def _source_failed(self, trigger: str, error: Exception, started: float) -> Pass:
        classification = classify(error)
        outcome = RunOutcome(
            self.spec.name, None, trigger, Action.APPLY.value, "failed", started, time.time(),
            error_class=classification.error_class, error_message=self.redactor.redact(str(error)),
        )
        run_id = self.store.start_run(self.spec.name, None, trigger, Action.APPLY.value, started)
        self._finish(run_id, outcome)
        self.store.update_state(self.spec.name, last_result="failed", last_error_class=classification.error_class)
        log.warning("%s: %s", classification.error_class, outcome.error_message, extra=self._fields())
        delay = retry_delay(classification, 1, self.retry, self.spec.resync_interval) or self.spec.resync_interval
        return Pass(outcome, delay)

    # Record

    def _finish(self, run_id: int, outcome: RunOutcome) -> int:
        outcome.error_message = self.redactor.redact(outcome.error_message)
        outcome.resources = self.redactor.redact_data(outcome.resources)
        self.metrics.record(outcome)
        return self.store.finish_run(run_id, outcome)

    def _record(self, run_id: int, outcome: RunOutcome, classification: Optional[Classification]) -> None:
        row_id = self._finish(run_id, outcome)
        state = advance(self.store.stack_state(self.spec.name), outcome, classification, self.retry, self.spec.resync_interval)
        state.last_run_id = row_id
        self.store.save_state(state)
        if outcome.result in ("applied", "remediated"):
            self.metrics.set_commit(self.spec.name, outcome.commit)
        log.info(
            "%s %s: %s in %.1fs", outcome.kind, (outcome.commit or "")[:12], outcome.result, outcome.duration_s,
            extra={**self._fields(outcome.commit), "result": outcome.result, "changes": outcome.changes.as_dict()},
        )

    # Crash recovery

    def _recover_if_interrupted(self) -> bool:
        """Runs left unfinished can only be a dead process's (this one holds the stack and the state directory):
        release the lock they left and clear their pending operations, then close them. False if that failed."""
        interrupted = [dict(row) for row in self.store.unfinished_runs() if row["stack"] == self.spec.name]
        if not interrupted:
            return True
        commit = interrupted[-1]["commit_sha"] or self.store.stack_state(self.spec.name).observed_commit
        log.warning("%d run(s) were interrupted by a crash; recovering", len(interrupted), extra=self._fields(commit))
        try:
            self._check_out(commit or find_head(self.spec))
            self.session.prepare()
            cleared = release_and_clear(self.session, self.redactor)
        except Exception as error:  # noqa: BLE001 - logged; the next pass tries again
            log.error("recovery failed, trying again at the next pass: %s", self.redactor.redact(str(error)), extra=self._fields(commit))
            return False
        now = time.time()
        for row in interrupted:
            outcome = RunOutcome(
                self.spec.name, row["commit_sha"], row["trigger"], row["kind"], "failed", row["started_at"], now,
                error_class=INTERRUPTED.error_class,
                error_message="the reconciler stopped during this run (killed or crashed); at the next start its lock "
                f"was released and {cleared} pending operation(s) cleared",
            )
            self._finish(row["id"], outcome)
        self.store.update_state(self.spec.name, retry_at=None, last_result="failed", last_error_class=INTERRUPTED.error_class)
        return True


def _listing(resources: list[dict[str, str]]) -> str:
    shown = resources[:MAX_LISTED_RESOURCES]
    lines = [f"\n  {entry['op']} {entry['urn']}" for entry in shown]
    if len(resources) > len(shown):
        lines.append(f"\n  ... and {len(resources) - len(shown)} more")
    return "".join(lines)
