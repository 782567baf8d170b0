"""Which replicas are alive: each renews a heartbeat Lease of its own; one not renewed for its duration is gone."""

from __future__ import annotations

import logging
import time
from typing import Optional

from reconciler.coordination.lease_api import REPLICA, Conflict, Lease, LeaseApi
from reconciler.coordination.observations import Observations

log = logging.getLogger("reconciler.coordination")


class Membership:
    def __init__(self, api: LeaseApi, replica_id: str, duration: float, observations: Observations) -> None:
        self._api = api
        self.replica_id = replica_id
        self._duration = duration
        self._observations = observations
        self._own: Optional[Lease] = None

    def beat(self) -> list[str]:
        """Renews this replica's heartbeat; the live replicas' ids, this one included, sorted."""
        now = time.monotonic()
        live = {self.replica_id}
        for lease in self._api.list(REPLICA):
            if lease.subject == self.replica_id:
                self._own = lease
            elif not self._observations.lapsed(lease, now):
                live.add(lease.subject)
        self._renew()
        return sorted(live)

    def leave(self) -> None:
        """Deletes the heartbeat, so the others count this replica out at once (a clean stop)."""
        if self._own is not None:
            try:
                self._api.delete(self._own)
            except Conflict:
                pass
            self._own = None

    def _renew(self) -> None:
        try:
            if self._own is None:
                self._own = self._api.create(REPLICA, self.replica_id, self.replica_id, self._duration)
            else:
                self._own = self._api.write(self._own, self.replica_id, self._duration)
        except Conflict:
            # Created by a twin since the listing, or changed under us: read again at the next beat.
            log.warning("the heartbeat Lease of replica %s changed under it; is another replica using this id?", self.replica_id)
            self._own = None
