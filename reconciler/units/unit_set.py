"""Every configured stack's units, kept in the status store: planned again whenever the parent is in sync at a new commit.

A unit found in the plan gets its record (and so its stack); one gone from it is marked removed, and its
next pass removes its stack through the deletion guard. Nothing is planned twice for one commit.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Optional

from reconciler.settings import StackSpec
from reconciler.source.checkout import StackCheckout

from .planning import UnitPlanError, read_plan
from .record import UnitRecord
from .store import UnitStore

log = logging.getLogger("reconciler")
PLAN_CHECKOUT_SUFFIX = ".units-plan"


@dataclass
class PlanChange:
    added: list[str] = field(default_factory=list)  # new units: their stacks are made
    removed: list[str] = field(default_factory=list)  # gone from the plan: their stacks are to be removed
    restored: list[str] = field(default_factory=list)  # back in the plan before their removal ran: they stay
    error: Optional[str] = None  # the plan could not be read: the units stay as they were


class UnitSet:
    def __init__(self, store: UnitStore, state_dir: Path) -> None:
        self.store = store
        self._state_dir = state_dir
        self._planned: dict[str, str] = {}  # parent -> the commit planned last by this process
        self._lock = threading.Lock()

    def records(self, parent: str) -> list[UnitRecord]:
        return self.store.of(parent)

    def record(self, parent: str, name: str) -> Optional[UnitRecord]:
        return next((record for record in self.store.of(parent) if record.name == name), None)

    def plan(self, parent: StackSpec, commit: str) -> PlanChange:
        """The parent's units at `commit` (the one it is in sync at), written to the store."""
        with self._lock:
            if self._planned.get(parent.name) == commit:
                return PlanChange()
            checkout = StackCheckout(parent, self._state_dir / "workspaces" / f"{parent.name}{PLAN_CHECKOUT_SUFFIX}")
            try:
                checkout.fetch(commit)
                planned = read_plan(parent, checkout, commit)
            except UnitPlanError as error:
                log.error("units: %s; its units stay as they were", error, extra={"stack": parent.name, "commit": commit})
                return PlanChange(error=str(error))
            self._planned[parent.name] = commit
            return self._write(parent.name, planned or [], commit)

    def planned(self, parent: str) -> Optional[str]:
        """The commit this process last planned the parent's units at; None before its first plan."""
        with self._lock:
            return self._planned.get(parent)

    def forget(self, name: str) -> None:
        self.store.delete(name)

    def _write(self, parent: str, planned: list[UnitRecord], commit: str) -> PlanChange:
        change = PlanChange()
        known = {record.name: record for record in self.store.of(parent)}
        for record in planned:
            before = known.pop(record.name, None)
            if before is None:
                change.added.append(record.name)
                log.info("units: %s is new at %s", record.name, commit[:12], extra={"stack": parent})
            elif before.removed_at is not None:
                change.restored.append(record.name)
            self.store.save(record)
        for gone in known.values():
            if gone.removed_at is None:
                change.removed.append(gone.name)
                log.warning("units: %s is gone at %s; its stack is removed (through the deletion guard)", gone.name,
                            commit[:12], extra={"stack": parent})
                self.store.save(replace(gone, removed_at=commit))
        return change


def unit_waves(records: list[UnitRecord]) -> list[list[str]]:
    """Units in dependency order: every unit's dependencies in an earlier wave, the ones being removed first."""
    depth: dict[str, int] = {}
    for record in records:  # the plan's order: dependencies first
        depth[record.unit] = 0 if record.removed_at else 1 + max((depth.get(dep, 0) for dep in record.depends_on), default=0)
    found: dict[int, list[str]] = {}
    for record in records:
        found.setdefault(depth[record.unit], []).append(record.name)
    return [found[level] for level in sorted(found)]
