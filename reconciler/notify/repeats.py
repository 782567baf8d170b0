"""What each sink last announced for each stack, kept on disk: a failure repeated every minute is announced once.

It is a file in the state directory, so a `once` run from cron every minute, or a restarted service,
remembers too; unreadable, it is started again (at worst one repeat is announced). It is written in the
background (a write takes milliseconds the recorder's thread has better use for), always whole.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

from reconciler.notify.delivery import BackgroundDelivery

log = logging.getLogger("reconciler")


@dataclass(frozen=True)
class LastAnnounced:
    key: list[Any]
    failing: Optional[str]  # the result announced when it was not in sync; None when it was


class AnnouncedRuns:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._entries = self._read()
        # One write waiting is enough: it writes what is remembered when it runs.
        self._writer: BackgroundDelivery[None] = BackgroundDelivery("announced runs", lambda _: self._write(), capacity=1)

    def last(self, sink: str, stack: str) -> Optional[LastAnnounced]:
        with self._lock:
            entry = self._entries.get(sink, {}).get(stack)
        return LastAnnounced(entry["key"], entry["failing"]) if entry else None

    def remember(self, sink: str, stack: str, announced: LastAnnounced) -> None:
        with self._lock:
            self._entries.setdefault(sink, {})[stack] = {"key": announced.key, "failing": announced.failing}
        self._writer.put(None)

    def flush(self, timeout_s: float) -> bool:
        return self._writer.flush(timeout_s)

    def _read(self) -> dict[str, dict[str, dict[str, Any]]]:
        try:
            entries = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as error:
            log.warning("%s: cannot be read (%s); repeats are counted from now", self.path, type(error).__name__)
            return {}
        return entries if isinstance(entries, dict) else {}

    def _write(self) -> None:
        with self._lock:
            text = json.dumps(self._entries, sort_keys=True)
        temporary = self.path.with_suffix(".tmp")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            temporary.write_text(text, encoding="utf-8")
            os.replace(temporary, self.path)
        except OSError as error:
            log.warning("%s: cannot be written (%s); repeats are remembered until the process exits",
                        self.path, error.strerror)
