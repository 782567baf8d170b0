"""At most N messages in any window of W seconds: a storm of failures cannot flood a chat channel."""

from __future__ import annotations

import collections
import threading
import time
from typing import Callable

from reconciler.settings.notification_settings import RateLimit


class SlidingWindow:
    def __init__(self, limit: RateLimit, clock: Callable[[], float] = time.monotonic) -> None:
        self.limit = limit
        self._clock = clock
        self._sent: collections.deque[float] = collections.deque()
        self._lock = threading.Lock()

    def allow(self) -> bool:
        """True (and counted) when one more message fits in the window ending now."""
        now = self._clock()
        with self._lock:
            while self._sent and self._sent[0] <= now - self.limit.per_s:
                self._sent.popleft()
            if len(self._sent) >= self.limit.messages:
                return False
            self._sent.append(now)
            return True
