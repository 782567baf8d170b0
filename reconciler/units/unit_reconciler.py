"""A unit stack's passes: the StackReconciler's steps while its parent's plan holds the unit, its removal after.

Each pass makes sure the plan is the one at the parent's commit, then reads the unit's record: a newer plan
may have changed its files or dependencies, or dropped it. The parent's units share `units_parallel` slots, however many workers the service has.
"""

from __future__ import annotations

import threading
from typing import Callable, Optional

from reconciler.desired_state import config_digest
from reconciler.reconcile import Pass, StackReconciler
from reconciler.settings import StackSpec
from reconciler.workspace import Workspace

from .record import UnitRecord
from .removal import UnitRemoval
from .specs import unit_spec


class UnitReconciler:
    def __init__(
        self, parent: StackSpec, record_of: Callable[[], Optional[UnitRecord]], plan: Callable[[], object], stack: StackReconciler,
        removal: UnitRemoval, slots: threading.Semaphore, digest_key: bytes,
    ) -> None:
        self.parent = parent
        self.stack = stack
        self.removal = removal
        self._record_of = record_of
        self._plan = plan
        self._slots = slots
        self._digest_key = digest_key
        # The parent's outputs digest last seen: kept while its position is not known (a Lease changing hands),
        # so the unit's desired state does not flip and run it for nothing.
        self._parent_outputs: Optional[str] = None

    @property
    def spec(self) -> StackSpec:
        return self.stack.spec

    @property
    def workspace(self) -> Workspace:
        """Its stack's executor (what a replica wraps in its Lease)."""
        return self.stack.workspace

    @workspace.setter
    def workspace(self, workspace: Workspace) -> None:
        self.stack.workspace = workspace

    def reconcile(self, trigger: str, force: bool = False) -> Pass:
        with self._slots:
            # The plan at the commit the parent is in sync at (read once per commit): a unit never runs a commit
            # its parent's plan has dropped it from.
            self._plan()
            record = self._record_of()
            if record is None:  # removed by an earlier pass
                return Pass(None, self.parent.resync_interval)
            self._parent_outputs = self.stack.recorder.position_of(self.parent.name).outputs_digest or self._parent_outputs
            spec = unit_spec(self.parent, record, self._parent_outputs)
            self.stack.spec = self.removal.workspace.spec = spec
            if record.removed_at is not None:
                return self.removal.run(trigger, record.removed_at, config_digest(spec, self._digest_key))
            return self.stack.reconcile(trigger, force)
