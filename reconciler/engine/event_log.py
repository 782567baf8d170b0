"""Engine events of one operation: streamed to the log as structured records, and kept for the run's record."""

from __future__ import annotations

import logging
from typing import Any, Optional

from pulumi.automation import EngineEvent, OpType

from reconciler.telemetry.terminal_text import strip_ansi
from reconciler.telemetry.redaction import Redactor

log = logging.getLogger("reconciler.engine")
DOOMED_OPS = {OpType.DELETE, OpType.REPLACE, OpType.DELETE_REPLACED, OpType.CREATE_REPLACEMENT}
_REPLACE_OPS = {OpType.REPLACE.value, OpType.CREATE_REPLACEMENT.value, OpType.DELETE_REPLACED.value}
MAX_ERROR_CHARS = 6000


class EventLog:
    def __init__(self, operation: str, stack: str, commit: Optional[str], redactor: Redactor) -> None:
        self.operation = operation
        self._fields = {"stack": stack, "commit": commit, "operation": operation}
        self._redactor = redactor
        self.planned: dict[str, str] = {}  # urn -> op, as the engine announced the steps
        self.completed: dict[str, str] = {}  # urn -> op, as the steps ended (a refresh says here what it found)
        self.replaced_by: dict[str, list[str]] = {}  # urn -> the properties whose change forces its replacement
        self.failed: list[str] = []
        self.errors: list[str] = []
        self.resource_changes: Optional[dict[str, int]] = None

    def on_output(self, line: str) -> None:
        if line.strip():
            log.info("%s", strip_ansi(line), extra={**self._fields, "source": "engine-output"})

    def on_event(self, event: EngineEvent) -> None:
        if event.resource_pre_event is not None:
            meta = event.resource_pre_event.metadata
            op = _op_name(meta.op)
            if op != OpType.SAME.value:
                # A replacement announces several steps; the first (replace) names it best.
                self.planned.setdefault(meta.urn, op)
                if meta.keys and op in _REPLACE_OPS:
                    self.replaced_by.setdefault(meta.urn, sorted(key for key in meta.keys if not key.startswith("__")))
                log.debug("%s %s", op, meta.urn, extra={**self._fields, "event": "resource-pre", "op": op, "urn": meta.urn, "type": meta.type})
        elif event.res_outputs_event is not None:
            meta = event.res_outputs_event.metadata
            op = _op_name(meta.op)
            if op != OpType.SAME.value:
                self.completed[meta.urn] = op
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
        """Resources the operation deletes or replaces, one entry per resource (with the fields forcing a replacement)."""
        doomed = [{"urn": urn, "op": op} for urn, op in self.planned.items() if op in {o.value for o in DOOMED_OPS}]
        for entry in doomed:
            if self.replaced_by.get(entry["urn"]):
                entry["fields"] = ", ".join(self.replaced_by[entry["urn"]])
        return doomed

    def changed(self) -> list[dict[str, str]]:
        return [{"urn": urn, "op": op} for urn, op in self.planned.items()]

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
