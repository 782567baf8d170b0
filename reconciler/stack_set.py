"""Everything the commands share: the config's stacks with their reconcilers, the status store, redaction, metrics."""

from __future__ import annotations

import fcntl
import logging
import os
import time
from pathlib import Path
from typing import IO, Optional

from reconciler.commit_status.listener import commit_status_listeners
from reconciler.desired_state import digest_key
from reconciler.notify.listeners import notification_listeners
from reconciler.process_setup import pulumi_command, pulumi_root
from reconciler.reconcile import StackReconciler
from reconciler.recorder import Recorder
from reconciler.run_events import RunListener
from reconciler.settings import ServiceConfig, StackSpec
from reconciler.status.store import StatusStore
from reconciler.telemetry.metrics import Metrics
from reconciler.telemetry.redaction import Redactor
from reconciler.workspace import StackWorkspace

log = logging.getLogger("reconciler")
STORE_FILE = "status.sqlite"
LOCK_FILE = "reconciler.lock"
# How long a process that ends (`once`, a stopping service) waits for what its listeners still send
# (commit statuses, notifications, Kubernetes Events).
LISTENER_FLUSH_S = 30.0


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
        key = digest_key(config.state_dir)
        specs = [spec for spec in config.stacks if only is None or spec.name == only]
        self.listeners: list[RunListener] = [*commit_status_listeners(config), *notification_listeners(config, redactor)]
        self.recorders = {
            spec.name: Recorder(spec, self.store, self.metrics, self.redactor, config.retry, self.listeners) for spec in specs
        }
        self.reconcilers = {
            spec.name: StackReconciler(spec, self._workspace(spec), self.recorders[spec.name], self.redactor, key)
            for spec in specs
        }
        for name in self.reconcilers:
            self.metrics.declare(name)
            applied = self.store.stack_state(name).last_applied_commit
            if applied:
                self.metrics.set_commit(name, applied)

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
