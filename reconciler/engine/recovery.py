"""Crash recovery through the CLI's supported commands: `cancel` releases the dead run's lock, and
`refresh --clear-pending-creates` drops the operations it left pending, so the next `up` converges."""

from __future__ import annotations

import logging

from pulumi import automation as auto

from reconciler.telemetry.redaction import Redactor

from .event_log import EventLog
from .stack_session import StackSession

log = logging.getLogger("reconciler.recovery")


def release_and_clear(session: StackSession, redactor: Redactor) -> int:
    """Returns how many pending operations were found and cleared."""
    stack = session.stack
    fields = {"stack": session.spec.name}
    try:
        # The file backend removes the lock file; Pulumi Cloud marks the update cancelled.
        stack.cancel()
        log.warning("released the lock the interrupted run left", extra=fields)
    except auto.CommandError as error:
        log.info("no lock to release (%s)", str(error).splitlines()[0] if str(error) else "cancel refused", extra=fields)
    deployment = stack.export_stack().deployment or {}
    pending = deployment.get("pending_operations") or []
    if not pending:
        return 0
    kinds = sorted({str(operation.get("type")) for operation in pending})
    log.warning("%d pending operation(s) (%s) left by the interrupted run; refreshing to clear them",
                len(pending), ", ".join(kinds), extra=fields)
    events = EventLog("recovery-refresh", session.spec.name, None, redactor)
    stack.refresh(clear_pending_creates=True, on_output=events.on_output, on_event=events.on_event, color="never")
    session.after_run()
    return len(pending)
