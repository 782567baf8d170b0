"""The service as one replica of several: its passes gated by the stacks' Leases, its status and metrics saying which it
holds, its stacks' positions published on their Leases and its gates reading the others' there."""

from __future__ import annotations

from functools import partial
from typing import Any, Callable

from prometheus_client import Gauge

from reconciler.coordination.lease_api import LeaseApi
from reconciler.coordination.leased_workspace import LeasedWorkspace
from reconciler.coordination.positions import encode
from reconciler.coordination.stack_leases import StackLeases
from reconciler.promotion import downstreams
from reconciler.reconcile import Pass
from reconciler.recorder import Recorder
from reconciler.stack_set import StackSet
from reconciler.status.model import StackState
from reconciler.workspace import StackWorkspace

RunStack = Callable[[str, str], Pass]
PROMOTION_TRIGGER = "promotion"  # as the service's own: an upstream's new position may open a downstream's gate


class Replica:
    def __init__(self, stacks: StackSet, trigger: Callable[[list[str], str], None]) -> None:
        config = stacks.config
        assert config.coordination is not None, "a replica needs a coordination section"
        self.settings = config.coordination
        self._specs = {spec.name: spec for spec in config.stacks}
        waiting_for = downstreams(config.stacks)
        self.leases = StackLeases(
            self.settings, list(self._specs), LeaseApi(self.settings, str(config.path)),
            on_acquired=lambda names: trigger(names, "lease acquired"),
            on_forwarded=lambda names: trigger(names, "forwarded"),
            on_published=lambda names: trigger(sorted({down for name in names for down in waiting_for.get(name, [])}),
                                                PROMOTION_TRIGGER),
        )
        for name, recorder in stacks.recorders.items():
            share_positions(recorder, self.leases, name)
        for name, reconciler in stacks.reconcilers.items():
            if isinstance(reconciler.workspace, StackWorkspace):  # the one that runs a CLI to fence
                reconciler.workspace.share(partial(self.leases.fence, name), self.settings.kill_grace, self.leases.replicas_on)
            reconciler.workspace = LeasedWorkspace(
                reconciler.workspace, partial(self.leases.confirm, name), self.settings.replica_id,
                retry_in=self.settings.renew_every,
            )
        self._held = Gauge("reconciler_stack_lease_held", "1 while this replica holds the stack's Lease (it alone runs it).",
                           ["stack"], registry=stacks.metrics.registry)
        self._live = Gauge("reconciler_live_replicas", "Replicas whose heartbeat Lease is fresh, this one included.",
                           registry=stacks.metrics.registry)

    def start(self) -> None:
        self.leases.start()

    def close(self) -> None:
        self.leases.close()

    def gate(self, run_stack: RunStack) -> RunStack:
        """Runs a stack's pass only while this replica holds its Lease; otherwise looks again at the stack's interval
        (a Lease acquired later triggers the stack at once)."""
        def run(name: str, reason: str) -> Pass:
            if not self.leases.begin(name):
                return Pass(None, next_in=self._specs[name].resync_interval)
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
        for name in self._specs:
            self._held.labels(name).set(1 if name in held else 0)
        self._live.set(len(self.leases.describe()["live_replicas"]))

    def in_touch(self) -> bool:
        return self.leases.in_touch()


def share_positions(recorder: Recorder, leases: StackLeases, name: str) -> None:
    """The recorder publishes the stack's position on its Lease, and its gates read the other stacks' there."""
    def publish(state: StackState) -> None:
        leases.publish(name, encode(state, leases.replica_id))
    recorder.publish = publish
    recorder.read_position = leases.position
