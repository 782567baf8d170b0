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
    paths: tuple[str, ...]  # repository paths: a commit changing none of them (and no claim) skips the unit
    planned_at: str  # the parent's commit the plan was read from
    removed_at: Optional[str] = None  # the commit whose plan no longer holds it: its stack is being removed
    # Globs from the repository's root of the files its split gives it: a file deleted since it last ran is in
    # none of today's `paths`, but still runs it (to delete its objects).
    claims: tuple[str, ...] = ()

    def as_status(self) -> dict[str, object]:
        return {
            "parent": self.parent, "unit": self.unit, "depends_on": list(self.depends_on), "files": len(self.files),
            "planned_at": self.planned_at, "removed_at": self.removed_at,
        }
