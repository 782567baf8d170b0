"""What the reconciler keeps of a unit: enough to make its stack again after a restart, and to remove it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional


@dataclass(frozen=True)
class UnitRecord:
    name: str  # the entry's name in status, metrics and the state directory: `<parent>.<unit>`
    parent: str  # the parent entry's name
    unit: str
    pulumi_stack: str
    position: int  # in the plan's dependency order
    files: tuple[str, ...]  # its manifest files, relative to the manifests folder
    depends_on: tuple[str, ...]  # unit names
    paths: tuple[str, ...]  # repository paths: a commit changing none of them skips the unit
    planned_at: str  # the parent's commit the plan was read from
    removed_at: Optional[str] = None  # the commit whose plan no longer holds it: its stack is being removed

    def as_status(self) -> dict[str, object]:
        return {
            "parent": self.parent, "unit": self.unit, "depends_on": list(self.depends_on), "files": len(self.files),
            "planned_at": self.planned_at, "removed_at": self.removed_at,
        }
