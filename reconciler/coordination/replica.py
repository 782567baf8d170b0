"""The service as one replica of several: its passes gated by the stacks' Leases, its status and metrics saying which it
holds, its stacks' positions published on their Leases and its gates reading the others' there. Units are stacks
like the others here: planned on every replica at their parent's published commit (unit_plans.py), shared through
Leases of their own, fenced and publishing alike."""

from __future__ import annotations

import threading
from functools import partial
from typing import Any, Callable

from prometheus_client import Gauge

from reconciler.coordination.lease_api import LeaseApi
from reconciler.coordination.leased_workspace import LeasedWorkspace
from reconciler.coordination.positions import encode
from reconciler.coordination.stack_leases import StackLeases
from reconciler.coordination.unit_plans import UnitPlans
from reconciler.promotion import downstreams
from reconciler.reconcile import Pass
from reconciler.recorder import Recorder
from reconciler.stack_set import Reconciler, StackSet
from reconciler.status.model import StackState
from reconciler.units.unit_reconciler import UnitReconciler
from reconciler.units.unit_set import PlanChange
from reconciler.workspace import StackWorkspace

RunStack = Callable[[str, str], Pass]
PROMOTION_TRIGGER = "promotion"  # as the service's own: an upstream's new position may open a downstream's gate
UNITS_TRIGGER = "units"  # as the service's own: a parent's or unit's new position may open a unit's gate


class Replica:
    def __init__(self, stacks: StackSet, trigger: Callable[[list[str], str], None]) -> None:
        config = stacks.config
        assert config.coordination is not None, "a replica needs a coordination section"
        self.settings = config.coordination
        self._stacks = stacks
        waiting_for = downstreams(config.stacks)
        self.leases = StackLeases(
            self.settings, [spec.name for spec in stacks.specs], LeaseApi(self.settings, str(config.path)),
            on_acquired=lambda names: trigger(names, "lease acquired"),
            on_forwarded=lambda names: trigger(names, "forwarded"),
            on_published=lambda names: self._published(names, waiting_for, trigger),
            on_dropped=self._dropped,
        )
        self._sharing = threading.Lock()  # plans come from the planner's thread and from units' passes
        self._share_stacks()
        # A parent's units are planned at the commit its holder published, the same on every replica.
        stacks.parent_commit = lambda parent: self.leases.position(parent).commit
        stacks.on_unit_removed = self.leases.drop
        self.unit_plans = UnitPlans([spec.name for spec in stacks.specs], stacks.parent_commit, self._plan,
                                    self.settings.renew_every)
        self._held = Gauge("reconciler_stack_lease_held", "1 while this replica holds the stack's Lease (it alone runs it).",
                           ["stack"], registry=stacks.metrics.registry)
        self._live = Gauge("reconciler_live_replicas", "Replicas whose heartbeat Lease is fresh, this one included.",
                           registry=stacks.metrics.registry)

    def start(self) -> None:
        self.leases.start()
        self.unit_plans.start()

    def close(self) -> None:
        self.unit_plans.close()
        self.leases.close()

    def units_changed(self, change: PlanChange) -> None:
        """A parent's new plan: new units are shared (and fenced) from now on, removed ones retired, restored ones
        shared again."""
        self._share_stacks()

    def gate(self, run_stack: RunStack) -> RunStack:
        """Runs a stack's pass only while this replica holds its Lease; otherwise looks again at the stack's interval
        (a Lease acquired later triggers the stack at once)."""
        def run(name: str, reason: str) -> Pass:
            reconciler = self._stacks.reconcilers.get(name)
            if reconciler is None:  # a unit removed since it was queued: the service takes it off its schedule
                return run_stack(name, reason)
            if not self.leases.begin(name):
                return Pass(None, next_in=reconciler.spec.resync_interval)
            try:
                return run_stack(name, reason)
            finally:
                self.leases.end(name)
        return run

    def forward(self, names: list[str], reason: str) -> list[str]:
        """A trigger for stacks held elsewhere goes to their holders (through their Leases)."""
        return self.leases.forward(names, reason)

    def status(self) -> dict[str, Any]:
        return self.leases.describe()

    def update_metrics(self) -> None:
        held = set(self.leases.held())
        self._held.clear()  # a removed unit's series goes with it
        for name in self.leases.describe()["holders"]:
            self._held.labels(name).set(1 if name in held else 0)
        self._live.set(len(self.leases.describe()["live_replicas"]))

    def in_touch(self) -> bool:
        return self.leases.in_touch()

    def _share_stacks(self) -> None:
        """Every stack not shared yet (the configured ones at the start, units once their parent was planned here):
        its recorder publishes on its Lease, its CLIs are fenced and its engine writes start only right after a
        renewal. A unit found in this replica's records after a restart waits for that plan: it may be gone."""
        with self._sharing:
            for name, reconciler in list(self._stacks.reconcilers.items()):
                if not isinstance(reconciler.workspace, LeasedWorkspace):
                    self._share(name, reconciler)
            units = self._stacks.units
            records = [record for spec in self._stacks.specs if units.planned(spec.name) for record in units.records(spec.name)]
            self.leases.track([spec.name for spec in self._stacks.specs] + [record.name for record in records],
                              [record.name for record in records if record.removed_at is not None])

    def _share(self, name: str, reconciler: Reconciler) -> None:
        share_positions(self._stacks.recorders[name], self.leases, name)
        if isinstance(reconciler.workspace, StackWorkspace):  # the one that runs a CLI to fence
            reconciler.workspace.share(partial(self.leases.fence, name), self.settings.kill_grace, self.leases.replicas_on)
        leased = LeasedWorkspace(reconciler.workspace, partial(self.leases.confirm, name), self.settings.replica_id,
                                 retry_in=self.settings.renew_every)
        reconciler.workspace = leased
        if isinstance(reconciler, UnitReconciler):
            reconciler.removal.before_destroy = partial(leased.check, "removal")

    def _plan(self, parent: str) -> None:
        self._stacks.plan_units(parent)
        self._share_stacks()  # the parent's units, planned here now, are shared from the next round on

    def _dropped(self, names: list[str]) -> None:
        """Removed units another replica destroyed (their Leases are gone): nothing of them is kept here."""
        for name in names:
            self._stacks.drop_unit(name)

    def _published(self, names: list[str], waiting_for: dict[str, list[str]], trigger: Callable[[list[str], str], None]) -> None:
        """Another replica's stack published a new position: the stacks here whose gates wait for it look again."""
        trigger(sorted({down for name in names for down in waiting_for.get(name, [])}), PROMOTION_TRIGGER)
        trigger(sorted({unit for name in names for unit in self._stacks.waiting_on(name)}), UNITS_TRIGGER)


def share_positions(recorder: Recorder, leases: StackLeases, name: str) -> None:
    """The recorder publishes the stack's position on its Lease, and its gates read the other stacks' there."""
    def publish(state: StackState) -> None:
        leases.publish(name, encode(state, leases.replica_id))
    recorder.publish = publish
    recorder.read_position = leases.position
