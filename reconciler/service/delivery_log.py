"""Webhook deliveries already acted on, remembered for a day in the state dir, so a replay triggers nothing.

Each signed delivery is remembered by its X-GitHub-Delivery id and by the
digest of its body: the signature covers only the body, so a replay under a
new delivery id is caught by the digest (two real events never share a body:
each carries its own commits, timestamps or ids). The file outlives restarts,
is the owner's only (0600), and holds at most `capacity` keys.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from pathlib import Path
from typing import Callable

REPLAY_WINDOW_S = 24 * 3600
CAPACITY = 100_000
FILE_NAME = "webhook-deliveries.sqlite"


class DeliveryLog:
    def __init__(self, path: Path, window_s: float = REPLAY_WINDOW_S, capacity: int = CAPACITY,
                 clock: Callable[[], float] = time.time) -> None:
        self._window_s = window_s
        self._capacity = capacity
        self._clock = clock
        self._lock = threading.Lock()
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        # Created owner-only before SQLite opens it; its journal files take the same mode.
        os.close(os.open(path, os.O_RDWR | os.O_CREAT, 0o600))
        os.chmod(path, 0o600)
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("CREATE TABLE IF NOT EXISTS seen (id INTEGER PRIMARY KEY, key TEXT NOT NULL UNIQUE, at REAL NOT NULL)")
        self._db.execute("CREATE INDEX IF NOT EXISTS seen_at ON seen (at)")

    def first_time(self, *keys: str) -> bool:
        """Remembers the keys and says True, or says False (remembering nothing) when any was seen within the window."""
        now = self._clock()
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.execute("DELETE FROM seen WHERE at < ?", (now - self._window_s,))
                marks = ",".join("?" * len(keys))
                if self._db.execute(f"SELECT 1 FROM seen WHERE key IN ({marks}) LIMIT 1", keys).fetchone():
                    self._db.execute("COMMIT")
                    return False
                self._db.executemany("INSERT INTO seen (key, at) VALUES (?, ?)", [(key, now) for key in keys])
                newest = self._db.execute("SELECT max(id) FROM seen").fetchone()[0]
                self._db.execute("DELETE FROM seen WHERE id <= ?", (newest - self._capacity,))
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        return True

    def forget(self, *keys: str) -> None:
        """For a delivery whose handling failed: GitHub's redelivery of it is then acted on."""
        marks = ",".join("?" * len(keys))
        with self._lock:
            self._db.execute(f"DELETE FROM seen WHERE key IN ({marks})", keys)

    def close(self) -> None:
        with self._lock:
            self._db.close()
