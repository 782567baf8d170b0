"""Recovery after a run that did not finish: release its lock only when its owner is gone, clear what it left pending,
and, when it may have run without checkpoints, bring the state back to what the cluster holds.

Runs against whatever commit the stack's branch is at now: neither releasing a lock nor clearing pending
operations needs the interrupted run's commit (which a force-push may have taken away for good).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Callable, Optional

from reconciler.errors import LOCK_HELD, Waiting
from reconciler.telemetry.redaction import Redactor

from .checkpoints import may_have_skipped
from .event_log import EventLog
from .inventory_sweep import Inventory, inventory_of
from .stack_locks import LockWriter, ReplicasOnHost, holder_description, owner_is_gone, stack_locks
from .stack_session import StackSession

log = logging.getLogger("reconciler.recovery")
# The replicas on a host, as their heartbeat Leases say (None: no replica there); set when replicas share the stacks.
ReplicasOn = Callable[[str], Optional[ReplicasOnHost]]


@dataclass(frozen=True)
class Recovered:
    released_locks: int
    cleared_operations: int
    # Set when the interrupted run may have had no checkpoints: what it created is in the cluster, not in the state,
    # and the recover step sweeps what Git no longer holds either (inventory_sweep.py).
    inventory: Optional[Inventory] = None

    def describe(self) -> str:
        refreshed = "; the state refreshed (the run may have had no checkpoints)" if self.inventory else ""
        return f"{self.released_locks} dead lock(s) released and {self.cleared_operations} pending operation(s) cleared{refreshed}"


def recover(session: StackSession, project: str, redactor: Redactor, stale_after: float, retry_in: float,
            replicas_on: ReplicasOn = lambda host: None) -> Recovered:
    """Raises Waiting (LockHeld, naming the holder) while a live process holds the stack."""
    fields = {"stack": session.spec.name}
    now = time.time()
    released = 0
    here = LockWriter.of_this_process()
    for lock in stack_locks(session.spec.backend_url, project, session.spec.stack):
        replicas = None if here.wrote(lock) else replicas_on(lock.hostname)
        holder = holder_description(lock, replicas, here)
        if not owner_is_gone(lock, now, stale_after, replicas, here):
            raise Waiting(LOCK_HELD, f"the stack is locked by {holder}, a live process: waiting for it to end "
                          f"(a lock older than {stale_after:.0f}s counts as abandoned)", delay=retry_in)
        lock.path.unlink(missing_ok=True)
        released += 1
        log.warning("released the lock of %s, whose process is gone", holder, extra=fields)
    deployment = session.stack.export_stack().deployment or {}
    pending = deployment.get("pending_operations") or []
    if pending:
        kinds = sorted({str(operation.get("type")) for operation in pending})
        log.warning("%d pending operation(s) (%s) left by the interrupted run; refreshing to clear them",
                    len(pending), ", ".join(kinds), extra=fields)
    skipped = may_have_skipped(session)
    if skipped:
        # What the run deleted leaves the state, what it changed is read back; what it created is swept or adopted.
        log.warning("the interrupted run may have had no checkpoints; refreshing the state from the cluster", extra=fields)
    if pending or skipped:
        events = EventLog("recovery-refresh", session.spec.name, None, redactor)
        session.stack.refresh(clear_pending_creates=True, on_output=events.on_output, on_event=events.on_event, color="never")
        session.after_run()
    return Recovered(released, len(pending), inventory_of(session, project) if skipped else None)
