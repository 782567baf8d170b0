"""Which replicas are alive: each renews a heartbeat Lease of its own; one not renewed for its duration is gone.

A heartbeat also names its replica's host (as Pulumi's lock files name it), so the recovery can tell a lock left
by a replica whose CLIs the fence has stopped for sure from one of a replica still alive (`on_host`).
"""

from __future__ import annotations

import logging
import socket
import time
from typing import Optional

from reconciler.coordination.lease_api import HOST_ANNOTATION, REPLICA, Conflict, Lease, LeaseApi
from reconciler.coordination.observations import Observations
from reconciler.engine.stack_locks import ReplicasOnHost

log = logging.getLogger("reconciler.coordination")


class Membership:
    def __init__(self, api: LeaseApi, replica_id: str, duration: float, observations: Observations) -> None:
        self._api = api
        self.replica_id = replica_id
        self._duration = duration
        self._observations = observations
        self._own: Optional[Lease] = None
        self._host = {HOST_ANNOTATION: socket.gethostname()}
        self._others: list[Lease] = []  # the other replicas' heartbeats at the last listing
        self._listed_at = 0.0  # time.monotonic() of that listing

    def beat(self) -> list[str]:
        """Renews this replica's heartbeat; the live replicas' ids, this one included, sorted."""
        now = time.monotonic()
        live = {self.replica_id}
        others = []
        for lease in self._api.list(REPLICA):
            if lease.subject == self.replica_id:
                self._own = lease
                continue
            others.append(lease)
            if not self._observations.lapsed(lease, now):
                live.add(lease.subject)
        self._others, self._listed_at = others, now
        self._renew()
        return sorted(live)

    def on_host(self, hostname: str) -> Optional[ReplicasOnHost]:
        """The other replicas whose heartbeats name `hostname`, as of the last listing; None when none does.

        A replica counts as fenced once its heartbeat has stood unchanged, in this process's eyes, for more than
        twice its duration: its stack Leases were last renewed at most a round after its heartbeat (a round that
        reaches the API server renews both), so each has run out in its own eyes by then, and the fence stopped
        its CLIs before that (kill_grace is shorter than the lease duration, by the config's rule)."""
        named = [lease for lease in self._others if lease.annotations.get(HOST_ANNOTATION) == hostname]
        if not named:
            return None
        fenced = [lease.subject for lease in named
                  if self._observations.unchanged_for(lease, self._listed_at) > 2 * lease.duration]
        return ReplicasOnHost(live=tuple(sorted({lease.subject for lease in named} - set(fenced))), fenced=tuple(sorted(fenced)))

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
                self._own = self._api.create(REPLICA, self.replica_id, self.replica_id, self._duration, self._host)
            else:
                self._own = self._api.write(self._own, self.replica_id, self._duration, self._host)
        except Conflict:
            # Created by a twin since the listing, or changed under us: read again at the next beat.
            log.warning("the heartbeat Lease of replica %s changed under it; is another replica using this id?", self.replica_id)
            self._own = None
