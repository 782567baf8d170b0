"""One stack's reconciler with a scripted workspace, on a real status store, recorder, metrics and redaction.

Several of them can share one store, as the stacks of one service do (a promotion chain reads its upstream's).
"""

from __future__ import annotations

import dataclasses

from reconciler.reconcile import StackReconciler
from reconciler.recorder import Recorder
from reconciler.settings import RetryPolicy
from reconciler.status.store import StatusStore
from reconciler.telemetry.metrics import Metrics
from reconciler.telemetry.redaction import Redactor
from testsupport.scripted_workspace import ScriptedWorkspace

POLICY = RetryPolicy(unreachable_delay=15, concurrent_delay=30, backoff_base=10, backoff_cap=600)


class ScriptedStack:
    def __init__(self, spec, store: StatusStore, head: str = "a" * 40) -> None:
        self.spec = spec
        self.store = store
        self.metrics = Metrics()
        self.redactor = Redactor(["hunter2-secret"])
        self.workspace = ScriptedWorkspace(head)
        self.reconciler = self._build(spec)

    def _build(self, spec):
        recorder = Recorder(spec, self.store, self.metrics, self.redactor, POLICY)
        return StackReconciler(spec, self.workspace, recorder, self.redactor, b"k" * 32)

    def respec(self, **changes) -> None:
        self.spec = dataclasses.replace(self.spec, **changes)
        self.reconciler = self._build(self.spec)

    def run(self, force: bool = False):
        self.workspace.calls.clear()
        return self.reconciler.reconcile("test", force=force)

    def state(self):
        return self.store.stack_state(self.spec.name)

    def conditions(self):
        return {c.type: (c.status, c.reason) for c in self.state().conditions}
