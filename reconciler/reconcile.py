"""One reconcile of one stack: an ordered list of named steps, and one recorder that writes what happened.

    recover -> observe -> decide -> gate -> check_out -> filter -> prepare -> guard -> apply (or drift check)

Each step either lets the pass go on, ends it (nothing due, nothing changed, blocked), or raises a typed
error (reconciler.errors). Whatever happens, the `finally` of `reconcile` hands the pass to the Recorder,
the only writer of the stack's state. The workspace executes (git, the engine); the steps only decide.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field, replace
from typing import Callable, Optional

from manifest_loader.units import claimed
from reconciler import promotion
from reconciler.decision import Action, decide, drift_due_at
from reconciler.desired_state import config_digest, outputs_digest
from reconciler.engine.inventory_sweep import sweep_inventory
from reconciler.errors import DELETION_GUARD, INTERNAL_ERROR, LOCK_HELD, ReconcileError, Temporary
from reconciler.guard import why_preview
from reconciler.policy.deletion_guard import judge
from reconciler.recorder import Recorder
from reconciler.settings import StackSpec
from reconciler.status.model import ChangeCounts, Result, RunKind, RunOutcome, StackState
from reconciler.telemetry.redaction import Redactor
from reconciler.units.gate import dependency_pending
from reconciler.workspace import Workspace

log = logging.getLogger("reconciler")
MAX_LISTED_RESOURCES = 20


@dataclass
class Pass:
    """What one call of reconcile() did: the run it recorded (None when nothing was due) and when to look again."""

    outcome: Optional[RunOutcome]
    next_in: float
    state: Optional[StackState] = None


@dataclass
class PassContext:
    trigger: str
    force: bool
    spec: StackSpec  # with secret files as they were read at the start of the pass
    state: StackState  # the position the pass started from
    digest: str
    head: Optional[str] = None
    action: Optional[Action] = None
    run: Optional[RunOutcome] = None
    run_id: Optional[int] = None
    error: Optional[ReconcileError] = None
    interrupted: list[dict] = field(default_factory=list)
    recovered: Optional[str] = None
    steps_run: list[str] = field(default_factory=list)

    @property
    def commit(self) -> str:
        """The head observe found: every step after it works on it."""
        assert self.head is not None, "a step after observe ran without a head"
        return self.head

    @property
    def outcome(self) -> RunOutcome:
        """The run decide started: every step after it records into it."""
        assert self.run is not None, "a step after decide ran without a run"
        return self.run


Step = Callable[[PassContext], bool]  # True: go on; False: the pass is done


class StackReconciler:
    def __init__(
        self, spec: StackSpec, workspace: Workspace, recorder: Recorder, redactor: Redactor, digest_key: bytes,
    ) -> None:
        self.spec = spec
        self.workspace = workspace
        self.recorder = recorder
        self.redactor = redactor
        self._digest_key = digest_key
        # Never two passes of one stack at once, whoever asks (poll, webhook, once).
        self._lock = threading.Lock()
        self.steps: list[tuple[str, Step]] = [
            ("recover", self.recover),
            ("observe", self.observe),
            ("decide", self.decide),
            ("gate", self.gate),
            ("check_out", self.check_out),
            ("filter", self.filter),
            ("prepare", self.prepare),
            ("guard", self.guard),
            ("apply", self.apply),
        ]

    def reconcile(self, trigger: str, force: bool = False) -> Pass:
        with self._lock:
            spec = self._current_spec()
            ctx = PassContext(trigger, force, spec, self.recorder.state(), config_digest(spec, self._digest_key))
            state: Optional[StackState] = None
            try:
                for name, step in self.steps:
                    ctx.steps_run.append(name)
                    if not step(ctx):
                        break
            except ReconcileError as error:
                self._failed(ctx, error)
            except Exception as error:  # noqa: BLE001 - a bug must still be recorded, never lost
                log.exception("unexpected error in %s", ctx.steps_run[-1], extra={"stack": self.spec.name})
                self._failed(ctx, Temporary(INTERNAL_ERROR, f"{type(error).__name__}: {error}"))
            finally:
                state = self.recorder.record(
                    ctx.head, ctx.digest, ctx.run, ctx.run_id, ctx.error, ctx.interrupted, ctx.recovered,
                )
            return Pass(ctx.run, self._next_in(state, time.time()), state)

    def _current_spec(self) -> StackSpec:
        """The spec with secret files read again, so a rotated secret is what this pass applies."""
        return replace(self.spec, config=tuple(override.current() for override in self.spec.config))

    # The steps

    def recover(self, ctx: PassContext) -> bool:
        """A run this stack's engine did not finish (a crash, a killed CLI, a deadline, a lock found held)
        leaves a lock and pending operations: deal with them first, against the branch's current head."""
        ctx.interrupted = self.recorder.interrupted_runs()
        if not ctx.interrupted and not ctx.state.needs_recovery:
            return True
        log.warning("the last run did not finish; recovering", extra={"stack": self.spec.name})
        self._start(ctx, RunKind.RECOVER, commit=None)
        try:
            self.observe(ctx)
            self.workspace.check_out(ctx.commit)
            self.workspace.prepare(ctx.spec)
            recovered = self.workspace.recover()
            # A run without checkpoints left what it created out of the state: what Git no longer holds goes too.
            swept = sweep_inventory(recovered.inventory, self.workspace.file_at, ctx.commit) if recovered.inventory else None
        except ReconcileError as error:
            if error.reason != LOCK_HELD:
                error.message = f"recovery failed: {error.message}"
            raise
        ctx.recovered = recovered.describe() + (f"; {swept.describe()}" if swept else "")
        log.warning("recovered: %s", ctx.recovered, extra={"stack": self.spec.name})
        ctx.run = ctx.run_id = None  # recovery done; the pass goes on as a normal one
        return True

    def observe(self, ctx: PassContext) -> bool:
        if ctx.head is None:
            ctx.head = self.workspace.find_head()
        return True

    def decide(self, ctx: PassContext) -> bool:
        state = ctx.state
        state.observed_commit, state.desired_digest = ctx.commit, ctx.digest
        if ctx.recovered is not None:
            # The interrupted run may have changed part of the stack: the head is applied again, whatever was settled.
            state.needs_recovery, state.retry_at, state.settled_commit = False, None, None
        ctx.action = decide(self.spec, state, ctx.commit, ctx.digest, time.time(), force=ctx.force)
        if ctx.action is None:
            return False
        kind = RunKind.APPLY if ctx.action is Action.APPLY else RunKind.DRIFT
        self._start(ctx, kind, ctx.commit)
        log.info("%s %s (%s)", ctx.action.value, ctx.commit[:12], ctx.trigger, extra={"stack": self.spec.name, "commit": ctx.commit})
        return True

    def gate(self, ctx: PassContext) -> bool:
        """With promote_from, the head is applied only once the upstream stack applied it and soaked (promotion.py);
        a unit's, once its parent and the units it depends on are in sync at it (units/gate.py)."""
        if ctx.action is not Action.APPLY:
            return True
        waiting = dependency_pending(self.spec, ctx.commit, self.recorder.position_of, self.workspace.contains, time.time())
        if waiting is not None:
            raise waiting
        if self.spec.promote_from is None:
            return True
        upstream = self.recorder.position_of(self.spec.promote_from)
        waiting = promotion.pending(self.spec, ctx.commit, upstream, self.workspace.contains, time.time())
        if waiting is not None:
            raise waiting
        return True

    def check_out(self, ctx: PassContext) -> bool:
        self.workspace.check_out(ctx.commit)
        return True

    def filter(self, ctx: PassContext) -> bool:
        """A commit that changes nothing under the stack's `paths` (nor, for a unit, a file its split gives it: a
        deleted one too) and no config change is skipped."""
        last = ctx.state.last_applied_commit
        if ctx.action is not Action.APPLY or not self.spec.paths or last is None:
            return True
        if ctx.state.last_applied_digest != ctx.digest:
            return True
        changed = self.workspace.changed_files(last, ctx.commit)
        if changed is None or any(touches(self.spec, path) for path in changed):
            return True
        ctx.outcome.result = Result.SKIPPED
        log.info("nothing under %s changed since %s: skipped", ", ".join(self.spec.paths), last[:12],
                 extra={"stack": self.spec.name, "commit": ctx.commit})
        return False

    def prepare(self, ctx: PassContext) -> bool:
        self.workspace.prepare(ctx.spec)
        return True

    def guard(self, ctx: PassContext) -> bool:
        if self.spec.deletion_guard is None or ctx.action is not Action.APPLY:
            return True
        state = ctx.state
        reason = why_preview(self.workspace, self.spec, state.last_applied_commit, ctx.commit,
                             config_changed=state.last_applied_digest not in (None, ctx.digest))
        if reason is None:
            log.info("deletion guard: nothing can be deleted (object sets of the two commits)", extra={"stack": self.spec.name})
            return True
        log.info("deletion guard: previewing (%s)", reason, extra={"stack": self.spec.name, "commit": ctx.commit})
        report = self.workspace.preview(ctx.commit, refresh=False)
        trailer = self.workspace.allowed_deletes(state.last_applied_commit, ctx.commit)
        verdict = judge(report.changes.delete, report.changes.replace, self.spec.deletion_guard, trailer)
        if verdict.allowed:
            return True
        run = ctx.outcome
        run.result, run.reason, run.changes, run.resources = Result.BLOCKED, DELETION_GUARD, report.changes, report.doomed
        run.error_message = verdict.reason + _listing(report.doomed)
        return False

    def apply(self, ctx: PassContext) -> bool:
        run = ctx.outcome
        if ctx.action is Action.APPLY:
            report = self.workspace.up(ctx.commit, refresh=False)
            run.changes, run.resources, run.result = report.changes, report.resources, Result.APPLIED
            run.outputs_digest = self._outputs_digest()
            return True
        drift = self.workspace.drift(ctx.commit)
        run.changes = drift.changes
        if not drift.resources:
            run.result = Result.SKIPPED
            return True
        log.warning("%d resource(s) drifted", len(drift.resources), extra={"stack": self.spec.name, "commit": ctx.commit})
        if not self.spec.auto_remediate:
            run.result, run.reason, run.resources = Result.DRIFTED, "Drifted", drift.resources
            run.error_message = (f"{len(drift.resources)} resource(s) differ from the stack's state; turn on "
                                 "auto_remediate or push a commit to restore them" + _listing(drift.resources))
            return True
        report = self.workspace.up(ctx.commit, refresh=True)
        run.changes, run.resources, run.result = drift.changes.then(report.changes), drift.resources, Result.REMEDIATED
        run.outputs_digest = self._outputs_digest()
        return True

    # Helpers

    def _outputs_digest(self) -> Optional[str]:
        """A parent's units run again when what they read of its outputs changed; read after each of its updates
        (a failure to read fails the run: its units must not go on with outputs nobody looked at)."""
        outputs = self.workspace.outputs_for_units()
        return outputs_digest(outputs, self._digest_key) if outputs is not None else None

    def _start(self, ctx: PassContext, kind: RunKind, commit: Optional[str]) -> None:
        ctx.run = self._outcome(ctx, kind, commit)
        if kind is not RunKind.RECOVER:
            ctx.run_id = self.recorder.run_started(ctx.run, ctx.head, ctx.digest)

    def _outcome(self, ctx: PassContext, kind: RunKind, commit: Optional[str]) -> RunOutcome:
        now = time.time()
        return RunOutcome(self.spec.name, commit, ctx.trigger, kind, Result.FAILED, now, now, ChangeCounts(),
                          config_digest=ctx.digest)

    def _failed(self, ctx: PassContext, error: ReconcileError) -> None:
        ctx.error = error
        if ctx.run is None:  # the source failed before a run started
            ctx.run = self._outcome(ctx, RunKind.APPLY, commit=None)
        ctx.run.result, ctx.run.reason = Result.FAILED, error.reason
        ctx.run.error_message = self.redactor.redact(error.message)

    def _next_in(self, state: StackState, now: float) -> float:
        moments = [now + self.spec.resync_interval]
        if state.retry_at is not None:
            moments.append(state.retry_at)
        due = drift_due_at(self.spec, state)
        if due is not None:
            moments.append(due)
        return max(min(moments) - now, 0.0)


def touches(spec: StackSpec, path: str) -> bool:
    """Whether a change to a repository path runs the stack: under its `paths`, or (a unit) one of its claims."""
    return under_paths(path, spec.paths) or (spec.unit is not None and claimed(path, spec.unit.claims))


def under_paths(path: str, prefixes: tuple[str, ...]) -> bool:
    """Whether a repository path is one of `prefixes` or inside one (the `paths` filter; a unit's previews too)."""
    return any(path == prefix.rstrip("/") or path.startswith(prefix.rstrip("/") + "/") for prefix in prefixes)


def _listing(resources: list[dict[str, str]]) -> str:
    shown = resources[:MAX_LISTED_RESOURCES]
    lines = [f"\n  {entry['op']} {entry['urn']}" + (f" (replaced: {entry['fields']} cannot change in place)" if entry.get("fields") else "")
             for entry in shown]
    if len(resources) > len(shown):
        lines.append(f"\n  ... and {len(resources) - len(shown)} more")
    return "".join(lines)
