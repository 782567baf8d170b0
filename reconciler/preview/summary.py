"""What a preview would change, reduced from the engine's events to plain data.

Collect the events with `stack.preview(diff=True, on_event=events.append)`,
then `summarize_preview(stack, commit, events, diff_text=result.stdout,
change_summary=result.change_summary)`; on an exception, `from_failure(...)`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping, Optional, Union

from pulumi.automation.errors import CommandError
from pulumi.automation.events import EngineEvent

from reconciler.engine.change_set import ChangedResource, ChangeSet
from reconciler.status.model import ChangeCounts


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
    # What the reader must know first, in words (a unit the pull request removes, and how its removal is allowed).
    note: Optional[str] = None

    @property
    def failed(self) -> bool:
        return self.error is not None

    @property
    def destructive(self) -> tuple[ChangedResource, ...]:
        """Deletes and replaces: what a reviewer must see before anything else."""
        return tuple(r for r in self.resources if r.operation in ("delete", "replace"))


def summarize_preview(
    stack: str,
    commit: str,
    events: Iterable[EngineEvent],
    *,
    diff_text: str = "",
    change_summary: Optional[Mapping[Any, int]] = None,
) -> PreviewSummary:
    """The summary of a preview that ran; counts from `change_summary`, else the summary event, else the steps."""
    change_set = ChangeSet()
    for event in events:
        change_set.add(event)
    resources = change_set.resources()
    op_map = change_summary if change_summary is not None else change_set.summary
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
