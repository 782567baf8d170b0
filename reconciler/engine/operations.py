"""The engine operations of a reconcile, each with its events logged and its failure carrying the engine's words."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Callable, Optional, TypeVar

from pulumi import automation as auto

from reconciler.status.model import ChangeCounts
from reconciler.telemetry.redaction import Redactor

from .checkpoints import checkpoints_for_up
from .event_log import EventLog
from .stack_session import StackSession

T = TypeVar("T")


class OperationFailed(Exception):
    """An engine operation failed; `cause` is the SDK's own error (for classification), the message the engine's diagnostics."""

    def __init__(self, operation: str, cause: auto.CommandError, message: str) -> None:
        super().__init__(f"{operation} failed: {message}")
        self.operation = operation
        self.cause = cause
        self.message = message


@dataclass
class EngineReport:
    changes: ChangeCounts
    resources: list[dict[str, str]] = field(default_factory=list)


@dataclass
class PreviewReport(EngineReport):
    doomed: list[dict[str, str]] = field(default_factory=list)  # deleted or replaced


def _run(
    session: StackSession, operation: str, commit: Optional[str], redactor: Redactor, call: Callable[[EventLog], T]
) -> tuple[T, EventLog]:
    events = EventLog(operation, session.spec.name, commit, redactor)
    try:
        return call(events), events
    except auto.CommandError as error:
        raise OperationFailed(operation, error, events.error_text(error)) from error
    finally:
        session.after_run()


def preview(session: StackSession, commit: str, redactor: Redactor, refresh: bool = False) -> PreviewReport:
    """The changes `up` would make, and the resources it would delete or replace."""
    result, events = _run(
        session, "preview", commit, redactor,
        lambda ev: session.stack.preview(on_output=ev.on_output, on_event=ev.on_event, color="never", refresh=refresh),
    )
    return PreviewReport(ChangeCounts.from_op_map(result.change_summary), events.changed(), events.doomed())


def up(session: StackSession, commit: str, redactor: Redactor, refresh: bool = False) -> EngineReport:
    with checkpoints_for_up(session):
        result, events = _run(
            session, "up", commit, redactor,
            lambda ev: session.stack.up(
                on_output=ev.on_output, on_event=ev.on_event, color="never", refresh=refresh,
                message=f"reconciler: {commit[:12]}",
                # The update's summary is read back without decrypting secrets: nothing here needs them.
                show_secrets=False,
            ),
        )
    summary = events.resource_changes or (result.summary.resource_changes if result.summary else None)
    return EngineReport(ChangeCounts.from_op_map(summary), events.changed())


def drift(session: StackSession, commit: str, redactor: Redactor) -> EngineReport:
    """A refresh preview: changes nothing, reports every resource whose live state left the stack's state."""
    _, events = _run(
        session, "drift-check", commit, redactor,
        lambda ev: session.stack.preview_refresh(on_output=ev.on_output, on_event=ev.on_event, color="never"),
    )
    drifted = events.changed()
    # The refresh's own summary counts refresh steps; count what was found instead.
    return EngineReport(ChangeCounts.from_op_map(Counter(entry["op"] for entry in drifted)), drifted)
