"""Everything the commands share: the config's stacks with their reconcilers, the status store, redaction, metrics."""

from __future__ import annotations

import fcntl
import logging
import os
import shutil
import threading
import time
from pathlib import Path, PurePosixPath
from typing import IO, Callable, Optional, Union

import yaml

from manifest_loader.units import UNITS_KEY
from reconciler.commit_status.listener import commit_status_listeners
from reconciler.desired_state import digest_key
from reconciler.engine.stack_file import stack_file_name
from reconciler.notify.listeners import notification_listeners
from reconciler.process_setup import pulumi_command, pulumi_root
from reconciler.promotion import upstream_commit
from reconciler.reconcile import StackReconciler
from reconciler.recorder import Recorder
from reconciler.run_events import RunListener
from reconciler.settings import ServiceConfig, StackSpec
from reconciler.source.git_command import GitError
from reconciler.status.model import StackState
from reconciler.status.store import StatusStore
from reconciler.telemetry.metrics import Metrics
from reconciler.telemetry.redaction import Redactor
from reconciler.units.record import UnitRecord
from reconciler.units.removal import UnitRemoval
from reconciler.units.specs import unit_spec
from reconciler.units.store import UnitStore
from reconciler.units.unit_reconciler import UnitReconciler
from reconciler.units.unit_set import PlanChange, UnitSet, unit_waves
from reconciler.units.workspace import UnitWorkspace
from reconciler.workspace import StackWorkspace

log = logging.getLogger("reconciler")
STORE_FILE = "status.sqlite"
LOCK_FILE = "reconciler.lock"
# How long a process that ends (`once`, a stopping service) waits for what its listeners still send
# (commit statuses, notifications, Kubernetes Events).
LISTENER_FLUSH_S = 30.0


Reconciler = Union[StackReconciler, UnitReconciler]


class StateDirBusy(Exception):
    """Another reconciler process uses this state directory."""


class StackSet:
    def __init__(self, config: ServiceConfig, redactor: Redactor, only: Optional[str] = None) -> None:
        self.config = config
        self.redactor = redactor
        self.metrics = Metrics()
        config.state_dir.mkdir(parents=True, exist_ok=True)
        self._lock_file = _lock_state_dir(config.state_dir)
        self.store = StatusStore(config.state_dir / STORE_FILE)
        pulumi_command(config)  # a missing or unusable CLI is a config problem, found before any pass
        self._key = digest_key(config.state_dir)
        self.specs = [spec for spec in config.stacks if only is None or spec.name == only]
        self.listeners: list[RunListener] = [*commit_status_listeners(config), *notification_listeners(config, redactor)]
        self.recorders = {
            spec.name: Recorder(spec, self.store, self.metrics, self.redactor, config.retry, self.listeners) for spec in self.specs
        }
        self.reconcilers: dict[str, Reconciler] = {
            spec.name: StackReconciler(spec, self._workspace(spec), self.recorders[spec.name], self.redactor, self._key)
            for spec in self.specs
        }
        for name in self.reconcilers:
            self._declare(name)
        # Units (reconciler/units/): the stacks a parent's plan makes, found again in the store after a restart.
        self.units = UnitSet(UnitStore(config.state_dir / STORE_FILE), config.state_dir)
        self._unit_slots = {spec.name: threading.BoundedSemaphore(spec.units_parallel) for spec in self.specs}
        # Told of every plan that adds or removes units (the service schedules them; a replica shares them).
        self.on_units_changed: Callable[[PlanChange], None] = lambda change: None
        # Told of a unit whose stack its removal destroyed (a replica deletes its Lease).
        self.on_unit_removed: Callable[[str], None] = lambda name: None
        # The commit a parent is in sync at, which its units are planned at: its record here, or (replicas) the
        # position its holder published on its Lease, the same on every replica.
        self.parent_commit: Callable[[str], Optional[str]] = lambda parent: upstream_commit(self.store.stack_state(parent))
        for spec in self.specs:
            for record in self.units.records(spec.name):
                self._add_unit(spec, record)

    def plan_units(self, parent: str) -> PlanChange:
        """The parent's units at the commit it is in sync at (after its pass): new ones get their stacks here."""
        spec = self.config.stack(parent)
        commit = self.parent_commit(parent)
        if commit is None or not (self.units.records(parent) or self._declares_units(spec, commit)):
            return PlanChange()
        change = self.units.plan(spec, commit)
        for name in change.added:
            record = self.units.record(parent, name)
            if record is not None and name not in self.reconcilers:
                self._add_unit(spec, record)
        if change.added or change.removed or change.restored:
            self.on_units_changed(change)
        return change

    def unit_waves(self, parent: str) -> list[list[str]]:
        return unit_waves(self.units.records(parent))

    def waiting_on(self, name: str) -> list[str]:
        """The units whose gate waits for this stack: to be looked at as soon as it records a run."""
        return [unit.spec.name for unit in self.reconcilers.values()
                if isinstance(unit, UnitReconciler) and unit.spec.unit is not None and name in unit.spec.unit.waits_for]

    def _declares_units(self, spec: StackSpec, commit: str) -> bool:
        """Whether the stack file at `commit` may declare units, read from the parent's own clone (one `git cat-file`):
        a stack without units never pays for the plan's checkout."""
        path = (PurePosixPath(spec.project_dir) / f"{stack_file_name(spec.stack)}.yaml").as_posix()
        try:
            text = self.reconcilers[spec.name].workspace.file_at(commit, path)
            document = yaml.safe_load(text) if text is not None else None
        except (GitError, OSError, yaml.YAMLError):
            return True  # not readable here: the plan's own checkout tells
        config = document.get("config") if isinstance(document, dict) else None
        return text is None or (isinstance(config, dict) and config.get(UNITS_KEY) is not None)

    def _declare(self, name: str) -> None:
        self.metrics.declare(name)
        applied = self.store.stack_state(name).last_applied_commit
        if applied:
            self.metrics.set_commit(name, applied)

    def _add_unit(self, parent: StackSpec, record: UnitRecord) -> None:
        spec = unit_spec(parent, record)
        recorder = Recorder(spec, self.store, self.metrics, self.redactor, self.config.retry, self.listeners)
        workspace = UnitWorkspace(
            spec, parent, lambda: self.store.stack_state(parent.name).encryption_salt, self.config.state_dir,
            pulumi_root(self.config), self.redactor, self.config.retry,
            remembered_salt=lambda: recorder.state().encryption_salt, remember_salt=recorder.remember_salt,
            record_of=lambda: self.units.record(parent.name, spec.name),
        )
        self.recorders[spec.name] = recorder
        self.reconcilers[spec.name] = UnitReconciler(
            parent, lambda: self.units.record(parent.name, spec.name), lambda: self.plan_units(parent.name),
            StackReconciler(spec, workspace, recorder, self.redactor, self._key),
            UnitRemoval(workspace, recorder, self.redactor, on_removed=lambda: self._removed(spec.name, workspace)),
            self._unit_slots[parent.name], self._key,
        )
        self._declare(spec.name)

    def _removed(self, name: str, workspace: UnitWorkspace) -> None:
        """The unit's stack is destroyed and out of its backend: nothing of it is left here either."""
        self._forget_unit(name, workspace)
        log.info("unit %s removed", name, extra={"stack": name})
        self.on_unit_removed(name)

    def drop_unit(self, name: str) -> None:
        """A removed unit another replica destroyed: its record, state, checkout and metrics go here too."""
        reconciler = self.reconcilers.get(name)
        if isinstance(reconciler, UnitReconciler):
            self._forget_unit(name, reconciler.removal.workspace)
            self.metrics.forget(name)
            log.info("unit %s removed by another replica", name, extra={"stack": name})

    def _forget_unit(self, name: str, workspace: UnitWorkspace) -> None:
        self.units.forget(name)
        self.store.save_state(StackState(name))
        self.reconcilers.pop(name, None)
        self.recorders.pop(name, None)
        shutil.rmtree(workspace.root, ignore_errors=True)

    def flush_listeners(self, timeout_s: float) -> None:
        """What the listeners still have to deliver, sent within `timeout_s` in all (`once` calls this before it exits)."""
        deadline = time.monotonic() + timeout_s
        for listener in self.listeners:
            listener.flush(max(deadline - time.monotonic(), 0.0))

    def _workspace(self, spec: StackSpec) -> StackWorkspace:
        recorder = self.recorders[spec.name]
        return StackWorkspace(
            spec, self.config.state_dir, pulumi_root(self.config), self.redactor, self.config.retry,
            remembered_salt=lambda: recorder.state().encryption_salt, remember_salt=recorder.remember_salt,
        )


def _lock_state_dir(state_dir: Path) -> IO[str]:
    # Two reconcilers on one state directory would run two updates of one stack.
    handle = open(state_dir / LOCK_FILE, "a+")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        holder = handle.read().strip() or "unknown"
        handle.close()
        raise StateDirBusy(f"{state_dir}: another reconciler (pid {holder}) uses this state directory; stop it first") from None
    handle.seek(0)
    handle.truncate()
    handle.write(str(os.getpid()))
    handle.flush()
    return handle
