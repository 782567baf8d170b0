"""A stack's workspace whose engine writes start only right after the stack's Lease was renewed, and whose CLI
runs are fenced by the Lease.

A replica that cannot renew (the API server is unreachable, or the Lease lapsed and another replica took it)
does not start the next write. A CLI already running is stopped (SIGINT, SIGKILL after kill_grace) once less than
kill_grace + FENCE_SLACK_S of the Lease is left in this replica's eyes (StackLeases.fence, set on the stack's
command by replica.py), so no CLI of this replica runs on the stack once another replica could see the Lease
lapse; the run ends Waiting/LeaseLost, marked for recovery.
"""

from __future__ import annotations

from typing import Any, Callable

from reconciler.engine.operations import EngineReport
from reconciler.engine.recovery import Recovered
from reconciler.errors import LEASE_LOST, Waiting
from reconciler.workspace import Workspace


class LeasedWorkspace:
    def __init__(self, inner: Workspace, confirm: Callable[[], bool], replica_id: str, retry_in: float) -> None:
        self._inner = inner
        self._confirm = confirm
        self._replica_id = replica_id
        self._retry_in = retry_in

    def __getattr__(self, attribute: str) -> Any:
        return getattr(self._inner, attribute)

    def up(self, commit: str, refresh: bool) -> EngineReport:
        self.check("update")
        return self._inner.up(commit, refresh)

    def recover(self) -> Recovered:
        self.check("recovery")
        return self._inner.recover()

    def check(self, what: str) -> None:
        """Raises Waiting (LeaseLost) unless the stack's Lease was renewed just now: before every engine write."""
        if not self._confirm():
            raise Waiting(LEASE_LOST, f"replica {self._replica_id} could not renew the stack's Lease before the {what}; "
                                      "the replica holding it runs the stack", delay=self._retry_in)
