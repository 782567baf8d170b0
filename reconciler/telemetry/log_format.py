"""Logging: a redaction filter on every handler, and plain text or one JSON object per line."""

from __future__ import annotations

import json
import logging
import sys
import threading
import time
from typing import Any, TextIO

from .redaction import Redactor

_STANDARD_ATTRIBUTES = set(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime"}


def extra_fields(record: logging.LogRecord) -> dict[str, Any]:
    return {key: value for key, value in vars(record).items() if key not in _STANDARD_ATTRIBUTES}


class RedactingFilter(logging.Filter):
    """Renders the message and the traceback, then removes secrets from them and from extra fields."""

    def __init__(self, redactor: Redactor) -> None:
        super().__init__()
        self._redactor = redactor

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = self._redactor.redact(record.getMessage())
        record.args = None
        if record.exc_info:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
            record.exc_info = None
        if record.exc_text:
            record.exc_text = self._redactor.redact(record.exc_text)
        if record.stack_info:
            record.stack_info = self._redactor.redact(record.stack_info)
        for key, value in extra_fields(record).items():
            setattr(record, key, self._redactor.redact_data(value))
        return True


class JsonLinesFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        entry.update(extra_fields(record))
        if record.exc_text:
            entry["exc"] = record.exc_text
        return json.dumps(entry, default=str, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)-7s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        fields = extra_fields(record)
        stack, commit = fields.get("stack"), fields.get("commit")
        if stack:
            text += f" [{stack}" + (f"@{str(commit)[:12]}]" if commit else "]")
        return text


def configure_logging(redactor: Redactor, log_format: str = "text", level: str = "INFO", stream: TextIO = sys.stderr) -> None:
    handler = logging.StreamHandler(stream)
    handler.addFilter(RedactingFilter(redactor))
    handler.setFormatter(JsonLinesFormatter() if log_format == "json" else TextFormatter())
    root = logging.getLogger()
    for existing in list(root.handlers):
        root.removeHandler(existing)
    root.addHandler(handler)
    root.setLevel(level)
    # An exception nobody caught, in any thread, goes through the same redaction and format, not raw to stderr.
    sys.excepthook = _log_uncaught
    threading.excepthook = lambda args: _log_uncaught(args.exc_type, args.exc_value, args.exc_traceback, args.thread)


def _log_uncaught(exc_type: Any, value: Any, traceback: Any, thread: Any = None) -> None:
    where = f" in thread {thread.name}" if thread is not None else ""
    logging.getLogger("reconciler").critical("uncaught %s%s", exc_type.__name__, where, exc_info=(exc_type, value, traceback))
