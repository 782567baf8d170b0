"""When each stack runs: at its own interval, at once on a webhook, never twice at a time, on a bounded pool.

Each stack has a slot with its next due time. The loop hands due slots to a
pool of `workers` threads; a trigger for a stack that is already running marks
it to run again right after, so a push during a long update is never lost.
"""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Callable, Optional

from reconciler.reconcile import Pass

log = logging.getLogger("reconciler.scheduler")
# After an unexpected error in the loop itself, look again after this long.
FALLBACK_DELAY = 30.0


@dataclass
class _Slot:
    due: float  # time.monotonic()
    reason: str = "startup"
    queued: bool = False  # handed to the pool, maybe not started yet
    started: bool = False
    again: bool = False


class Scheduler:
    def __init__(
        self,
        stacks: list[str],
        run_stack: Callable[[str, str], Pass],
        workers: int,
        on_scheduled: Optional[Callable[[str, float], None]] = None,
    ) -> None:
        now = time.monotonic()
        self._slots = {name: _Slot(due=now) for name in stacks}
        self._run_stack = run_stack
        self._on_scheduled = on_scheduled or (lambda name, wall_time: None)
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="stack")
        self._wake = threading.Condition()
        self._stopping = False
        self._thread = threading.Thread(target=self._loop, name="scheduler", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def started(self) -> bool:
        return self._thread.ident is not None

    def alive(self) -> bool:
        return self._thread.is_alive() and not self._stopping

    def trigger(self, names: list[str], reason: str) -> None:
        with self._wake:
            for name in names:
                slot = self._slots.get(name)
                if slot is None:
                    continue
                slot.reason = reason
                if slot.started:
                    slot.again = True
                else:
                    slot.due = time.monotonic()
            self._wake.notify()

    def add(self, names: list[str], reason: str) -> None:
        """New stacks (a parent's new units), due at once."""
        with self._wake:
            for name in names:
                self._slots.setdefault(name, _Slot(due=time.monotonic(), reason=reason))
            self._wake.notify()

    def remove(self, name: str) -> None:
        """A stack that is gone (a removed unit): never run again; a run of it that is going on ends as it would."""
        with self._wake:
            self._slots.pop(name, None)

    def next_due(self, name: str) -> Optional[float]:
        """Seconds until the stack's next run (0 when due or running)."""
        with self._wake:
            slot = self._slots.get(name)
            if slot is None:
                return None
            return 0.0 if slot.queued else max(slot.due - time.monotonic(), 0.0)

    def stop(self) -> None:
        """No new runs; waits for the running ones to end."""
        with self._wake:
            self._stopping = True
            self._wake.notify()
        self._thread.join()
        self._pool.shutdown(wait=True, cancel_futures=True)

    def _loop(self) -> None:
        with self._wake:
            while not self._stopping:
                now = time.monotonic()
                for name, slot in self._slots.items():
                    if not slot.queued and slot.due <= now:
                        slot.queued, slot.again = True, False
                        self._pool.submit(self._run, name, slot.reason)
                waiting = [slot.due for slot in self._slots.values() if not slot.queued]
                timeout = max(min(waiting) - now, 0.0) if waiting else None
                self._wake.wait(timeout)

    def _run(self, name: str, reason: str) -> None:
        with self._wake:
            slot = self._slots.get(name)
            if slot is None:
                return
            if self._stopping:
                slot.queued = False
                return
            slot.started = True
        next_in = FALLBACK_DELAY
        try:
            next_in = self._run_stack(name, reason).next_in
        except Exception:  # noqa: BLE001 - one stack's bug must not stop the others
            log.exception("the reconcile of %s failed unexpectedly; trying again in %.0fs", name, FALLBACK_DELAY, extra={"stack": name})
        with self._wake:
            if self._slots.get(name) is not slot:  # removed while it ran
                self._wake.notify()
                return
            slot.queued = slot.started = False
            if slot.again:
                slot.due = time.monotonic()
            else:
                slot.due = time.monotonic() + next_in
                slot.reason = "poll"
            self._on_scheduled(name, time.time() + max(slot.due - time.monotonic(), 0.0))
            self._wake.notify()
