"""A bounded queue and one worker thread: whoever hands over a delivery never waits for it."""

from __future__ import annotations

import logging
import queue
import threading
from typing import Callable, Generic, TypeVar

log = logging.getLogger("reconciler")
Item = TypeVar("Item")
# A sink that is down for a long time must not hold the process's memory: past this, new items are dropped.
CAPACITY = 256


class BackgroundDelivery(Generic[Item]):
    def __init__(self, name: str, deliver: Callable[[Item], None], capacity: int = CAPACITY) -> None:
        self.name = name
        self._deliver = deliver
        self._queue: queue.Queue[Item] = queue.Queue(capacity)
        self._pending = 0
        self._idle = threading.Condition()
        # A daemon: a delivery still retrying never keeps the process from exiting (flush bounds the wait).
        threading.Thread(target=self._work, name=f"deliver-{name}", daemon=True).start()

    def put(self, item: Item) -> bool:
        """Queues the item; False (and nothing queued) when the queue is full."""
        with self._idle:
            try:
                self._queue.put_nowait(item)
            except queue.Full:
                return False
            self._pending += 1
            return True

    def flush(self, timeout_s: float) -> bool:
        """Waits until everything queued was delivered or given up on; False when the time ran out first."""
        with self._idle:
            return self._idle.wait_for(lambda: self._pending == 0, max(timeout_s, 0))

    def _work(self) -> None:
        while True:
            item = self._queue.get()
            try:
                self._deliver(item)
            except Exception as error:  # noqa: BLE001 - the worker must outlive any one delivery
                # Deliveries handle the failures they expect: this one is a fault, its traceback says where.
                log.warning("%s: a delivery failed: %s", self.name, type(error).__name__, exc_info=True)
            finally:
                with self._idle:
                    self._pending -= 1
                    self._idle.notify_all()
