"""Which stacks this replica reconciles: one Lease per stack, spread evenly over the live replicas.

Every `renew_every` a replica renews its heartbeat and counts the live replicas (membership.py), renews the
stack Leases it holds, releases those over its share (ceil(stacks / live replicas)) that are between passes,
and claims free or lapsed ones up to its share. A write that loses a race (409) leaves the stack to the
winner. A pass starts only right after its stack's Lease was renewed, and so does every engine write
(leased_workspace.py); a stack is never released during a pass. Which stacks a replica reaches for first is
rendezvous hashing (highest sha256(replica, stack)), so replicas reach for different stacks and a rebalance
moves few. Pulumi's own stack lock stays the second guard. Each stack's Lease also carries the position its
holder published, which the gates of every replica read (positions.py).

The stacks change while the replicas run: units (reconciler/units/) are added when a parent's plan finds them,
and a removed one is retired: no replica creates its Lease any more, its holder runs the removal and then
drops it (deleting the Lease), and every other replica drops it once its Lease is gone.
"""

from __future__ import annotations

import hashlib
import logging
import math
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable, Optional

from reconciler.coordination.lease_api import STACK, TRIGGER_ANNOTATION, Conflict, Lease, LeaseApi, LeaseApiError, lease_name
from reconciler.coordination.membership import Membership
from reconciler.coordination.observations import Observations
from reconciler.coordination.positions import POSITION_ANNOTATION, trusted, unknown
from reconciler.engine.stack_locks import ReplicasOnHost
from reconciler.promotion import Position
from reconciler.settings import CoordinationSettings
from reconciler.settings.coordination_section import FENCE_SLACK_S

log = logging.getLogger("reconciler.coordination")


@dataclass
class _Held:
    lease: Lease
    valid_until: float  # time.monotonic(): the renewal's request start plus the duration, before anyone sees it lapse


class StackLeases:
    def __init__(
        self, settings: CoordinationSettings, stacks: list[str], api: LeaseApi,
        on_acquired: Callable[[list[str]], None] = lambda names: None,
        on_forwarded: Callable[[list[str]], None] = lambda names: None,
        on_published: Callable[[list[str]], None] = lambda names: None,
        on_dropped: Callable[[list[str]], None] = lambda names: None,
    ) -> None:
        self.settings = settings
        self.replica_id = settings.replica_id
        self.stacks = list(stacks)
        self._api = api
        self._on_acquired = on_acquired
        self._on_forwarded = on_forwarded
        self._on_published = on_published
        self._on_dropped = on_dropped
        self._retiring: set[str] = set()  # removed units: never claimed anew, dropped once their Lease is gone
        self._triggers: dict[str, str] = {}  # each held stack's trigger annotation as last seen
        self._positions: dict[str, str] = {}  # each held stack's position as this replica last published it
        self._seen_positions: dict[str, str] = {}  # every stack's position annotation at the last round
        self._observations = Observations()
        self._membership = Membership(api, self.replica_id, settings.lease_duration, self._observations)
        self._lock = threading.Lock()  # every API call and every change of what is held
        self._held: dict[str, _Held] = {}
        self._busy: set[str] = set()
        self._live: list[str] = [self.replica_id]
        self._holders: dict[str, Optional[str]] = {}
        self._last_sync: Optional[float] = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="leases", daemon=True)

    # The background loop

    def start(self) -> None:
        """Announces this replica now and claims from the next round on: replicas started together see each
        other before they claim, instead of the first taking every stack and handing most back."""
        try:
            with self._lock:
                self._live = self._membership.beat()
                self._last_sync = time.monotonic()
        except LeaseApiError as error:
            log.warning("cannot announce this replica yet (%s); trying every %.0fs", error, self.settings.renew_every)
        self._thread.start()

    def close(self) -> None:
        """Releases every stack and the heartbeat, so the other replicas take over at once; call after the passes ended."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()
        with self._lock:
            try:
                for name in list(self._held):
                    self._release(name, "stopping")
                self._membership.leave()
            except LeaseApiError as error:
                log.warning("could not release the Leases (%s); they lapse after %.0fs", error, self.settings.lease_duration)

    def sync(self) -> None:
        """One round: heartbeat, renew, release the surplus, claim up to the share."""
        acquired: list[str] = []
        with self._lock:
            self._live = self._membership.beat()
            leases = {lease.subject: lease for lease in self._api.list(STACK) if lease.subject in self.stacks}
            dropped = sorted(name for name in self._retiring if name not in leases and name not in self._held)
            for name in dropped:
                self._forget(name)
            now = time.monotonic()
            free = {name for name, lease in leases.items() if self._observations.lapsed(lease, now)}
            for name in list(self._held):
                self._renew(name)
            share = self.share()
            for name in sorted(self._held, key=self._preference)[: max(len(self._held) - share, 0)]:
                if name not in self._busy:
                    self._release(name, f"more than its share of {share}")
            for name in sorted(self.stacks, key=self._preference, reverse=True):
                if len(self._held) >= share:
                    break
                lease = leases.get(name)
                mine = lease is not None and lease.holder == self.replica_id  # this replica, restarted
                new = lease is None and name not in self._retiring  # a retired unit's Lease is never made again
                if name not in self._held and (new or mine or name in free) and self._claim(name, lease):
                    acquired.append(name)
            forwarded = self._forwarded(leases)
            published = self._published_elsewhere(leases)
            self._holders = {name: lease.holder for name, lease in leases.items() if lease.holder != self.replica_id}
            self._holders.update({name: self.replica_id for name in self._held})
            self._last_sync = time.monotonic()
        if dropped:
            self._on_dropped(dropped)
        if acquired:
            self._on_acquired(acquired)
        if forwarded:
            self._on_forwarded(forwarded)
        if published:
            self._on_published(published)

    def _loop(self) -> None:
        # Rounds start every renew_every, however long the last one took.
        next_at = time.monotonic() + self.settings.renew_every
        while not self._stop.wait(max(next_at - time.monotonic(), 0.0)):
            next_at += self.settings.renew_every
            self._sync_logged()
            next_at = max(next_at, time.monotonic())

    def _sync_logged(self) -> None:
        try:
            self.sync()
        except LeaseApiError as error:
            log.warning("Leases not synced (%s); held stacks stop running once their Lease runs out", error)
        except Exception:  # noqa: BLE001 - the loop must outlive a bug in one round
            log.exception("Leases not synced: unexpected error")

    # The stacks that come and go (units)

    def track(self, names: list[str], retired: list[str]) -> None:
        """`names`: every stack to share (new units join from the next round on); `retired`: the removed units among
        them, whose holder keeps them until `drop` and which every replica drops once they have no Lease."""
        with self._lock:
            self.stacks += [name for name in names if name not in self.stacks]
            self._retiring = {name for name in retired if name in self.stacks}

    def drop(self, name: str) -> None:
        """The holder's end of a removed unit: its Lease deleted, the stack no longer shared."""
        with self._lock:
            held = self._held.get(name)
            try:
                if held is not None:
                    self._delete(held.lease)
            except LeaseApiError as error:
                log.warning("the removed unit's Lease is left (%s); delete it by hand", error, extra={"stack": name})
            self._forget(name)

    # What the passes ask

    def begin(self, name: str) -> bool:
        """Before a pass: the stack's Lease renewed now; it is then kept (not released) until `end`."""
        with self._lock:
            if not self._confirm(name):
                return False
            self._busy.add(name)
            return True

    def end(self, name: str) -> None:
        with self._lock:
            self._busy.discard(name)

    def confirm(self, name: str) -> bool:
        """Before a step that writes: True when the stack's Lease was renewed just now."""
        with self._lock:
            return self._confirm(name)

    def fence(self, name: str) -> Optional[str]:
        """Asked while a CLI of the stack runs, without the lock (a round may hang on an unreachable API server): why
        the CLI must stop now, or None. It must stop once less than kill_grace + FENCE_SLACK_S of the Lease is left
        in this replica's eyes (which see it lapse first), so it is dead before any other replica can see it lapse."""
        held = self._held.get(name)
        if held is None:
            return f"replica {self.replica_id} lost the stack's Lease"
        left = held.valid_until - time.monotonic()
        if left >= self.settings.kill_grace + FENCE_SLACK_S:
            return None
        return (f"replica {self.replica_id} could not renew the stack's Lease, which runs out in {max(left, 0.0):.1f}s "
                "(fenced before another replica may take the stack)")

    def publish(self, name: str, position: str) -> None:
        """Writes the stack's position (positions.encode) on its Lease, in a renewal, when this replica holds it; a
        write that fails is retried by the next renewal, which carries the latest position."""
        with self._lock:
            if name not in self._held:
                log.warning("position not published: %s does not hold the stack's Lease", self.replica_id, extra={"stack": name})
                return
            if self._positions.get(name) == position:
                return  # on the Lease already, or carried by the next renewal
            self._positions[name] = position
            try:
                self._renew(name)
            except LeaseApiError as error:
                log.warning("position not published yet (%s); the next renewal carries it", error, extra={"stack": name})

    def position(self, name: str) -> Position:
        """The stack's position as its holder published it, read from the API server now; "not known" unless its
        publisher still holds the Lease or released it (positions.trusted)."""
        with self._lock:
            try:
                lease = self._api.read(lease_name(STACK, name))
            except LeaseApiError as error:
                return unknown(f"its Lease cannot be read ({error})")
            lapsed = lease is not None and self._observations.lapsed(lease, time.monotonic())
        return trusted(lease, lapsed)

    def replicas_on(self, hostname: str) -> Optional[ReplicasOnHost]:
        """The other replicas on a host, by their heartbeats (membership.py)."""
        return self._membership.on_host(hostname)

    def forward(self, names: list[str], reason: str) -> list[str]:
        """Hands a trigger (a webhook) for stacks this replica does not hold to their holders, through an annotation
        on each stack's Lease that the holder reads at its next round; the stacks forwarded."""
        with self._lock:
            others = [name for name in names if name in self.stacks and name not in self._held]
            forwarded = []
            for name in others:
                try:
                    self._api.annotate(lease_name(STACK, name), TRIGGER_ANNOTATION, f"{reason} via {self.replica_id} at {time.time():.3f}")
                    forwarded.append(name)
                except Conflict:
                    pass  # no Lease yet: whoever claims the stack runs it at once
                except LeaseApiError as error:
                    log.warning("could not forward the %s to the stack's holder (%s); it runs at its next poll", reason, error,
                                extra={"stack": name})
        return forwarded

    # What status and metrics show

    def held(self) -> list[str]:
        with self._lock:
            return sorted(self._held)

    def share(self) -> int:
        return math.ceil(len(self.stacks) / max(len(self._live), 1))

    def in_touch(self) -> bool:
        """The last round reached the API server within one lease duration."""
        return self._last_sync is not None and time.monotonic() - self._last_sync < self.settings.lease_duration

    def describe(self) -> dict[str, Any]:
        with self._lock:
            return {
                "replica": self.replica_id,
                "namespace": self.settings.namespace,
                "live_replicas": list(self._live),
                "share": self.share(),
                "held": sorted(self._held),
                "holders": {name: self._holders.get(name) for name in self.stacks},
            }

    # Under the lock

    def _confirm(self, name: str) -> bool:
        """Renewed now, with more than one renewal interval left (a slow answer eats into the lease)."""
        if name not in self._held:
            return False
        try:
            renewed = self._renew(name)
        except LeaseApiError as error:
            log.warning("could not renew the Lease (%s)", error, extra={"stack": name})
            return False
        return renewed and self._held[name].valid_until - time.monotonic() > self.settings.renew_every

    def _renew(self, name: str) -> bool:
        """False when the Lease was lost (taken after it lapsed, or deleted); API errors propagate."""
        for _ in range(2):  # a second try after someone else's edit of a Lease that still names this replica
            held = self._held[name]
            started = time.monotonic()
            try:
                lease = self._api.write(held.lease, self.replica_id, self.settings.lease_duration, self._position_of(name))
            except Conflict:
                current = self._api.read(held.lease.name)
                if current is None or current.holder != self.replica_id:
                    del self._held[name]
                    self._positions.pop(name, None)
                    log.warning("%s lost the Lease: another replica holds the stack now", self.replica_id, extra={"stack": name})
                    return False
                self._held[name] = _Held(current, held.valid_until)
                continue
            self._held[name] = _Held(lease, started + self.settings.lease_duration)
            return True
        return False

    def _claim(self, name: str, lease: Optional[Lease]) -> bool:
        started = time.monotonic()
        cleared = {POSITION_ANNOTATION: ""}  # the last holder's position: nobody's, until this replica records the stack
        try:
            if lease is None:
                taken = self._api.create(STACK, name, self.replica_id, self.settings.lease_duration, cleared)
            else:
                taken = self._api.write(lease, self.replica_id, self.settings.lease_duration, cleared)
        except Conflict:
            return False  # another replica claimed it first
        self._held[name] = _Held(taken, started + self.settings.lease_duration)
        previous = lease.holder if lease is not None else None
        log.info("%s holds the stack's Lease (from %s)", self.replica_id, previous or "nobody", extra={"stack": name})
        return True

    def _release(self, name: str, why: str) -> None:
        held = self._held.pop(name)
        position = self._position_of(name)  # the final one: readers trust a released Lease's position
        self._positions.pop(name, None)
        try:
            self._api.write(held.lease, None, self.settings.lease_duration, position)
        except Conflict:
            return
        log.info("%s released the stack's Lease (%s)", self.replica_id, why, extra={"stack": name})

    def _forwarded(self, leases: dict[str, Lease]) -> list[str]:
        """Held stacks whose trigger annotation changed since the last round (not at the round that claimed them:
        a claim runs the stack anyway)."""
        changed = []
        for name in self._held:
            seen = leases[name].annotations.get(TRIGGER_ANNOTATION, "") if name in leases else ""
            if name in self._triggers and self._triggers[name] != seen:
                changed.append(name)
            self._triggers[name] = seen
        for name in set(self._triggers) - set(self._held):
            del self._triggers[name]
        return changed

    def _position_of(self, name: str) -> Optional[dict[str, str]]:
        """The annotation a write of a held stack's Lease carries: the position this replica published last."""
        return {POSITION_ANNOTATION: self._positions[name]} if name in self._positions else None

    def _published_elsewhere(self, leases: dict[str, Lease]) -> list[str]:
        """Stacks held by other replicas whose published position changed since the last round (their downstreams
        here may be waiting for it)."""
        changed = []
        for name, lease in leases.items():
            seen = lease.annotations.get(POSITION_ANNOTATION, "")
            if name in self._seen_positions and self._seen_positions[name] != seen and name not in self._held:
                changed.append(name)
            self._seen_positions[name] = seen
        return changed

    def _delete(self, lease: Lease) -> None:
        """Deletes a Lease this replica holds; one written since it was read (a forward's annotation) is read again."""
        for _ in range(2):
            try:
                self._api.delete(lease)
                return
            except Conflict:
                current = self._api.read(lease.name)
                if current is None or current.holder != self.replica_id:
                    return
                lease = current

    def _forget(self, name: str) -> None:
        self._held.pop(name, None)
        self._triggers.pop(name, None)
        self._positions.pop(name, None)
        self._seen_positions.pop(name, None)
        self._holders.pop(name, None)
        self._busy.discard(name)
        self._retiring.discard(name)
        if name in self.stacks:
            self.stacks.remove(name)

    def _preference(self, name: str) -> bytes:
        return hashlib.sha256(f"{self.replica_id}\0{name}".encode()).digest()
