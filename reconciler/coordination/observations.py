"""When a Lease lapses, judged by this process's own clock.

A Lease lapses `leaseDurationSeconds` after this process last saw it change (its resourceVersion), whatever
time the holder wrote in renewTime: replicas on hosts whose clocks disagree still agree on expiry, as
client-go's leader election judges it. A Lease seen for the first time counts from that moment.
"""

from __future__ import annotations

from reconciler.coordination.lease_api import Lease


class Observations:
    def __init__(self) -> None:
        self._seen: dict[str, tuple[str, float]] = {}  # lease name: (resourceVersion, monotonic time first seen)

    def lapsed(self, lease: Lease, now: float) -> bool:
        """Nobody holds it, or it has not changed for longer than its duration; `now` is time.monotonic()."""
        version, since = self._seen.get(lease.name, ("", now))
        if version != lease.resource_version:
            self._seen[lease.name] = (lease.resource_version, now)
            since = now
        return lease.holder is None or now - since > lease.duration

    def unchanged_for(self, lease: Lease, until: float) -> float:
        """How long, up to `until` (the last listing that showed it), this process has seen the Lease unchanged."""
        version, since = self._seen.get(lease.name, ("", until))
        return until - since if version == lease.resource_version else 0.0
