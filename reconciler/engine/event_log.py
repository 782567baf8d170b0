"""Engine events of one operation: streamed to the log as structured records, and kept for the run's record."""

from __future__ import annotations

import logging
from typing import Any, Optional

from pulumi.automation import EngineEvent, OpType

from reconciler.engine.change_set import ChangeSet
from reconciler.telemetry.redaction import Redactor
from reconciler.telemetry.terminal_text import strip_ansi

log = logging.getLogger("reconciler.engine")
MAX_ERROR_CHARS = 6000


class EventLog:
    def __init__(self, operation: str, stack: str, commit: Optional[str], redactor: Redactor) -> None:
        self.operation = operation
        self._fields = {"stack": stack, "commit": commit, "operation": operation}
        self._redactor = redactor
        self.changes = ChangeSet()
        self.failed: list[str] = []
        self.errors: list[str] = []
        self.resource_changes: Optional[dict[str, int]] = None

    def on_output(self, line: str) -> None:
        if line.strip():
            log.info("%s", strip_ansi(line), extra={**self._fields, "source": "engine-output"})

    def on_event(self, event: EngineEvent) -> None:
        self.changes.add(event)
        if event.resource_pre_event is not None:
            meta = event.resource_pre_event.metadata
            op = _op_name(meta.op)
            if op != OpType.SAME.value:
                log.debug("%s %s", op, meta.urn, extra={**self._fields, "event": "resource-pre", "op": op, "urn": meta.urn, "type": meta.type})
        elif event.res_outputs_event is not None:
            meta = event.res_outputs_event.metadata
            op = _op_name(meta.op)
            if op != OpType.SAME.value:
                log.info("done %s %s", op, meta.urn, extra={**self._fields, "event": "resource-done", "op": op, "urn": meta.urn})
        elif event.res_op_failed_event is not None:
            meta = event.res_op_failed_event.metadata
            self.failed.append(meta.urn)
            log.warning("failed %s %s", _op_name(meta.op), meta.urn, extra={**self._fields, "event": "resource-failed", "urn": meta.urn})
        elif event.diagnostic_event is not None:
            self._diagnostic(event.diagnostic_event)
        elif event.summary_event is not None:
            self.resource_changes = {_op_name(op): count for op, count in event.summary_event.resource_changes.items()}

    def _diagnostic(self, diagnostic: Any) -> None:
        message = strip_ansi(diagnostic.message or "").strip()
        if not message:
            return
        if diagnostic.severity == "error":
            self.errors.append(message)
            log.error("%s", message, extra={**self._fields, "event": "diagnostic", "urn": diagnostic.urn})
        elif diagnostic.severity == "warning":
            log.warning("%s", message, extra={**self._fields, "event": "diagnostic", "urn": diagnostic.urn})

    def doomed(self) -> list[dict[str, str]]:
        """Resources the operation deletes or replaces, one entry each, with the fields that force a replacement."""
        doomed = []
        for resource in self.changes.doomed():
            entry = {"urn": resource.urn, "op": resource.operation}
            if resource.replacement_properties:
                entry["fields"] = ", ".join(resource.replacement_properties)
            doomed.append(entry)
        return doomed

    def changed(self) -> list[dict[str, str]]:
        """Every resource the operation changes (or, for a refresh, found changed), one entry each."""
        return [{"urn": resource.urn, "op": resource.operation} for resource in self.changes.changed()]

    def error_text(self, fallback: BaseException) -> str:
        """The engine's own error diagnostics (they name the file and object), else the exception; redacted, capped."""
        text = "\n".join(self.errors) if self.errors else strip_ansi(str(fallback))
        text = self._redactor.redact(text.strip())
        if len(text) > MAX_ERROR_CHARS:
            cut = len(text) - MAX_ERROR_CHARS
            # The end holds the exception and the file it names; drop the start.
            text = f"[{cut} characters cut]\n" + text[cut:]
        return text


def _op_name(op: Any) -> str:
    return str(getattr(op, "value", op))
