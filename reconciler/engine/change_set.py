"""Engine step events folded into one change per resource: the one fold behind the run record, the deletion
guard, the drift check and the pull request comment (Markdown and JSON)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Optional

from pulumi.automation.events import DiffKind, EngineEvent, StepEventMetadata

# The engine reports one replacement as up to three steps on one URN
# (create-replacement, replace, delete-replaced); they are one change here.
# Reads, refreshes and discards change nothing a reviewer acts on.
_OPERATION_OF_STEP = {
    "same": "same",
    "create": "create",
    "update": "update",
    "delete": "delete",
    "replace": "replace",
    "create-replacement": "replace",
    "delete-replaced": "replace",
    "import": "import",
    "import-replacement": "replace",
}
# When steps on one URN disagree, the most consequential one names the change.
_WEIGHT = {"same": 0, "update": 1, "import": 2, "create": 3, "delete": 4, "replace": 5}
_REPLACING_DIFFS = {DiffKind.ADD_REPLACE, DiffKind.DELETE_REPLACE, DiffKind.UPDATE_REPLACE}


@dataclass(frozen=True)
class ChangedResource:
    type: str
    name: str
    urn: str
    operation: str  # create, update, replace, delete or import
    # Property paths as the provider reports them (`spec.replicas`, `data.GREETING`).
    changed_properties: tuple[str, ...] = ()
    # The subset of those whose change forces the replacement.
    replacement_properties: tuple[str, ...] = ()


class ChangeSet:
    """Feed it every engine event of one operation; it answers what changed, resource by resource."""

    def __init__(self) -> None:
        self._steps: dict[str, list[StepEventMetadata]] = {}
        self.summary: Optional[Mapping[Any, int]] = None  # the engine's own counts, when it sent them

    def add(self, event: EngineEvent) -> None:
        if event.summary_event is not None:
            self.summary = event.summary_event.resource_changes
        # A refresh announces each step as "refresh" and says what it found in the step's outputs event.
        for step_event in (event.resource_pre_event, event.res_outputs_event):
            if step_event is not None and step_event.metadata.op.value in _OPERATION_OF_STEP:
                self._steps.setdefault(step_event.metadata.urn, []).append(step_event.metadata)

    def resources(self) -> list[ChangedResource]:
        """Every resource a step named, unchanged ones (`same`) included."""
        return [_fold(urn, steps) for urn, steps in self._steps.items()]

    def changed(self) -> list[ChangedResource]:
        return [resource for resource in self.resources() if resource.operation != "same"]

    def doomed(self) -> list[ChangedResource]:
        """Deleted or replaced: what the deletion guard counts and a reviewer must see first."""
        return [resource for resource in self.resources() if resource.operation in ("delete", "replace")]


def _fold(urn: str, steps: list[StepEventMetadata]) -> ChangedResource:
    operation = max((_OPERATION_OF_STEP[s.op.value] for s in steps), key=_WEIGHT.__getitem__)
    changed: set[str] = set()
    replacing: set[str] = set()
    for step in steps:
        # Property paths from the provider's detailed diff when it gave one
        # (the kubernetes provider does), else the top-level keys that differ.
        detailed = step.detailed_diff or {}
        changed.update(detailed or step.diffs or ())
        replacing.update(path for path, diff in detailed.items() if diff.diff_kind in _REPLACING_DIFFS)
        if operation == "replace":
            replacing.update(step.keys or ())
    # Keys like `__inputs` are the provider's bookkeeping, not the user's properties.
    changed = {p for p in changed | replacing if not p.startswith("__")}
    return ChangedResource(
        type=steps[0].type,
        name=name_from_urn(urn),
        urn=urn,
        operation=operation,
        changed_properties=tuple(sorted(changed)),
        replacement_properties=tuple(sorted(p for p in replacing if p in changed)),
    )


def name_from_urn(urn: str) -> str:
    """The resource name: the part after the type in `urn:pulumi:STACK::PROJECT::TYPE::NAME`."""
    parts = urn.split("::", 3)
    return parts[3] if len(parts) == 4 else urn
