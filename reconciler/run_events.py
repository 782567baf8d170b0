"""What the recorder tells the world after it wrote a run: commit statuses, notifications, cluster Events.

A listener is told when a run starts (its row is written) and when it is recorded (its outcome and the
stack's new state are stored). Listeners must never fail or slow a reconcile: the recorder calls them after
the state is written, catches what they raise, and each one delivers in the background on its own.
"""

from __future__ import annotations

from typing import Protocol

from reconciler.settings import StackSpec
from reconciler.status.model import RunOutcome, StackState


class RunListener(Protocol):
    def run_started(self, spec: StackSpec, run: RunOutcome) -> None:
        """A run of `spec` began (its result is not known yet: `run.result` is a placeholder)."""

    def run_recorded(self, spec: StackSpec, run: RunOutcome, state: StackState) -> None:
        """The run ended and was stored; `run.error_message` is already redacted."""

    def flush(self, timeout_s: float) -> None:
        """Deliver what is queued (a `once` process calls this before it exits)."""
