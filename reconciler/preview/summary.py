"""What a preview would change, reduced from the engine's events to plain data.

Collect the events with `stack.preview(diff=True, on_event=events.append)`,
then `summarize_preview(stack, commit, events, diff_text=result.stdout,
change_summary=result.change_summary)`; on an exception, `from_failure(...)`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, Mapping, Optional, Union

from pulumi.automation.errors import CommandError
from pulumi.automation.events import DiffKind, EngineEvent, StepEventMetadata

from reconciler.status.model import ChangeCounts

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


@dataclass(frozen=True)
class PreviewSummary:
    stack: str
    commit: str
    counts: ChangeCounts = field(default_factory=ChangeCounts)
    resources: tuple[ChangedResource, ...] = ()
    # The engine's human diff (`PreviewResult.stdout`), or its output up to a failure.
    diff_text: str = ""
    # Set only when the preview failed; then counts and resources are empty.
    error: Optional[str] = None
    # The commit the pull request is based on, when known (shown next to the commit).
    base: Optional[str] = None

    @property
    def failed(self) -> bool:
        return self.error is not None

    @property
    def destructive(self) -> tuple[ChangedResource, ...]:
        """Deletes and replaces: what a reviewer must see before anything else."""
        return tuple(r for r in self.resources if r.operation in ("delete", "replace"))


def name_from_urn(urn: str) -> str:
    """The resource name: the part after the type in `urn:pulumi:STACK::PROJECT::TYPE::NAME`."""
    parts = urn.split("::", 3)
    return parts[3] if len(parts) == 4 else urn


def summarize_preview(
    stack: str,
    commit: str,
    events: Iterable[EngineEvent],
    *,
    diff_text: str = "",
    change_summary: Optional[Mapping[str, int]] = None,
) -> PreviewSummary:
    """The summary of a preview that ran; counts from `change_summary`, else the summary event, else the steps."""
    steps: dict[str, list[StepEventMetadata]] = {}
    summary_changes: Optional[Mapping[str, int]] = None
    for event in events:
        if event.summary_event is not None:
            summary_changes = event.summary_event.resource_changes
        for step_event in (event.resource_pre_event, event.res_outputs_event):
            if step_event is not None and step_event.metadata.op.value in _OPERATION_OF_STEP:
                steps.setdefault(step_event.metadata.urn, []).append(step_event.metadata)

    resources = [_resource(urn, metadata) for urn, metadata in steps.items()]
    op_map = change_summary if change_summary is not None else summary_changes
    if op_map is not None:
        counts = ChangeCounts.from_op_map(op_map)
    else:
        counts = ChangeCounts.from_op_map(_count(r.operation for r in resources))
    changed = tuple(r for r in resources if r.operation != "same")
    return PreviewSummary(stack=stack, commit=commit, counts=counts, resources=changed, diff_text=diff_text)


def from_failure(
    stack: str,
    commit: str,
    error: Union[BaseException, str],
    *,
    events: Iterable[EngineEvent] = (),
    diff_text: str = "",
) -> PreviewSummary:
    """The summary of a preview that failed.

    The error shown is what the engine reported as errors (diagnostic events), or
    else the exception's text; when the diagnostics are shown, the exception's
    full text (a `CommandError` carries the CLI's stdout and stderr) becomes the
    output, unless `diff_text` already holds the output collected so far.
    """
    described = _describe(error)
    diagnostics = [
        event.diagnostic_event.message.strip()
        for event in events
        if event.diagnostic_event is not None and event.diagnostic_event.severity == "error"
    ]
    diagnostics = [message for message in diagnostics if message]
    if diagnostics:
        return PreviewSummary(stack=stack, commit=commit, diff_text=diff_text or described, error="\n".join(diagnostics))
    return PreviewSummary(stack=stack, commit=commit, diff_text=diff_text, error=described or "the preview failed without a message")


def _resource(urn: str, steps: list[StepEventMetadata]) -> ChangedResource:
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


def _count(operations: Iterable[str]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for operation in operations:
        counts[operation] = counts.get(operation, 0) + 1
    return counts


def _describe(error: Union[BaseException, str]) -> str:
    if isinstance(error, str):
        return error.strip()
    # The SDK's CommandError text is already "code, stdout, stderr"; other
    # exceptions (a ManifestError raised before the engine ran) need their class.
    if isinstance(error, CommandError):
        return str(error).strip()
    return f"{type(error).__name__}: {error}".strip()
