"""Every replica plans every parent's units, whichever replica holds the parent, so that all of them share the same
unit stacks through Leases.

A parent's units are planned at the commit its holder published on its Lease (positions.py): the same commit, so
the same plan, on every replica. The plan needs a checkout and Git, so it runs here, on a thread of its own that
looks at the published commits every `renew_every`, never in the Lease rounds.
"""

from __future__ import annotations

import logging
import threading
from typing import Callable, Optional

log = logging.getLogger("reconciler")


class UnitPlans:
    def __init__(self, parents: list[str], published_commit: Callable[[str], Optional[str]], plan: Callable[[str], object],
                 every: float) -> None:
        self._parents = parents
        self._published_commit = published_commit
        self._plan = plan
        self._every = every
        self._looked_at: dict[str, str] = {}  # parent -> the published commit planned last here
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="unit-plans", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def close(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()

    def look(self) -> None:
        """Plans each parent whose published commit changed since the last look (the plan itself is once per commit)."""
        for parent in self._parents:
            commit = self._published_commit(parent)
            if commit is None or self._looked_at.get(parent) == commit:
                continue
            self._plan(parent)
            self._looked_at[parent] = commit

    def _loop(self) -> None:
        while not self._stop.wait(self._every):
            try:
                self.look()
            except Exception:  # noqa: BLE001 - the planner must outlive a bug in one look
                log.exception("units not planned: unexpected error")
