"""A pull request's previews of a parent's units: the units whose paths it changes, and the units it removes.

Each unit is previewed as its stack runs: a throwaway checkout at the head, the parent's stack file copied
in under the unit's name (with the parent's salt), and its own comment. A unit the pull request adds has no
state yet: its stack is made when the commit is merged and applied. A unit it removes (planned where the pull
request branched off, gone from the plan at its head) gets what destroying its stack deletes, and how the
deletion guard lets that happen. The service's pull request previews and the `preview` command both preview a
parent's units through `unit_previews`.
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Iterator, Optional

from pulumi import automation as auto

from manifest_loader.units import UnitError, units_in_stack_file
from reconciler.engine.stack_file import copy_stack_file, stack_file_name
from reconciler.policy.deletion_guard import judge
from reconciler.preview.run import PreviewRun, live_salt, run_preview
from reconciler.preview.workspace import PreviewWorkspace, RefNotFound
from reconciler.reconcile import touches
from reconciler.settings import ServiceConfig, StackSpec
from reconciler.source.git_command import GitError, run_git
from reconciler.telemetry.redaction import Redactor

from .planning import UnitPlanError, read_plan
from .record import UnitRecord
from .specs import unit_spec
from .workspace import deployed_by_unit

log = logging.getLogger("reconciler.preview")


@dataclass(frozen=True)
class AffectedUnits:
    changed: list[UnitRecord] = field(default_factory=list)  # in the head's plan, their paths changed
    removed: list[UnitRecord] = field(default_factory=list)  # in the plan where the pull request branched off only


def unit_previews(
    config: ServiceConfig, workspace: PreviewWorkspace, known: list[UnitRecord], command: auto.PulumiCommand,
    redactor: Redactor, commit: str, base: Optional[str],
) -> Iterator[PreviewRun]:
    """The preview of each unit of the parent (`workspace.spec`) the pull request changes, in the plan's order,
    then of each unit it removes."""
    affected = affected_units(workspace, known, base, commit)
    for record in affected.changed:
        yield preview_unit(config, workspace.spec, record, command, redactor, commit, base)
    for record in affected.removed:
        yield removal_preview(config, workspace.spec, record, command, redactor, commit, base)


def affected_units(workspace: PreviewWorkspace, known: list[UnitRecord], base: Optional[str], head: str) -> AffectedUnits:
    """The units of the plan at the pull request's head whose paths differ between where it branched off its base
    and its head (without a base, every unit of that plan), and the units planned there that the head's plan no
    longer holds. When the plans cannot be read, every unit `known` (the service's) counts as changed."""
    parent = workspace.spec
    try:
        planned = _plan_at(workspace, head)
        if base is None:
            return AffectedUnits(planned)
        fork = run_git(["merge-base", workspace.resolve(base), head], parent.credentials, cwd=workspace.cache).stdout.strip()
        output = run_git(["diff", "--no-renames", "--name-only", "-z", fork, head, "--"], parent.credentials,
                         cwd=workspace.cache).stdout
    except (UnitPlanError, RefNotFound, GitError) as error:
        log.warning("cannot tell which units %s changes (%s): previewing them all", head[:12], error, extra={"stack": parent.name})
        return AffectedUnits([record for record in known if record.removed_at is None])
    try:
        # Also when the head declares none: a pull request turning units off removes them all.
        before = _plan_at(workspace, fork)
    except (UnitPlanError, GitError) as error:
        # A plan the base could not make (the pull request may fix it) removes nothing the head does not hold.
        log.warning("no plan where %s branched off (%s): no unit counts as removed", head[:12], error, extra={"stack": parent.name})
        before = []
    changed = [path for path in output.split("\0") if path]
    names = {record.name for record in planned}
    return AffectedUnits([record for record, spec in ((r, unit_spec(parent, r)) for r in planned)
                          if any(touches(spec, path) for path in changed)],
                         [record for record in before if record.name not in names])


def preview_unit(
    config: ServiceConfig, parent: StackSpec, record: UnitRecord, command: auto.PulumiCommand, redactor: Redactor,
    commit: str, base: Optional[str], destroy: bool = False,
) -> PreviewRun:
    spec = unit_spec(parent, record)

    def parents_stack_file(project: Path) -> None:
        copy_stack_file(project, parent.stack, spec.stack, lambda: live_salt(config, parent))

    workspace = PreviewWorkspace(spec, config.state_dir)
    return run_preview(config, workspace, command, redactor, workspace.resolve(commit), base, prepare_checkout=parents_stack_file,
                       destroy=destroy)


def removal_preview(
    config: ServiceConfig, parent: StackSpec, record: UnitRecord, command: auto.PulumiCommand, redactor: Redactor,
    commit: str, base: Optional[str],
) -> PreviewRun:
    """What removing the unit's stack deletes, with a note on when the reconciler does it."""
    run = preview_unit(config, parent, record, command, redactor, commit, base, destroy=True)
    summary = run.summary
    doomed = None if summary.failed else sum(1 for r in summary.resources if r.operation == "delete" and deployed_by_unit(r.urn))
    return dataclasses.replace(run, summary=dataclasses.replace(summary, note=removal_note(parent, record, doomed)))


def declares_units(workspace: PreviewWorkspace, commit: str) -> bool:
    """Whether the parent's stack file at `commit` (read from the preview's Git cache) declares units; True when
    they cannot be read: the plan then says what is wrong."""
    spec = workspace.spec
    path = (PurePosixPath(spec.project_dir) / f"{stack_file_name(spec.stack)}.yaml").as_posix()
    found = run_git(["cat-file", "blob", f"{commit}:{path.removeprefix('./')}"], spec.credentials, cwd=workspace.cache,
                    ok_codes=(0, 128))
    if found.returncode != 0:
        return False  # no stack file: its config comes from Pulumi.yaml's defaults, and units default to off
    try:
        return units_in_stack_file(found.stdout, path) is not None
    except UnitError:
        return True


def removal_note(parent: StackSpec, record: UnitRecord, doomed: Optional[int]) -> str:
    """How a removed unit's stack goes (units/removal.py): at once, or only through the parent's deletion guard."""
    gone = (f"This pull request removes unit `{record.unit}`: once it is merged, the reconciler destroys the unit's "
            f"stack `{record.pulumi_stack}` and removes it from its backend")
    guard = parent.deletion_guard
    if guard is None:
        return f"{gone} at once (the stack has no deletion guard)."
    if doomed is not None and judge(doomed, 0, guard, None).allowed:
        return f"{gone}: its {doomed} resource(s) are within the deletion guard of {guard}."
    count = str(doomed) if doomed is not None else "N"
    return (f"{gone} only through the deletion guard of {guard}: a commit since the unit was last applied (in this pull "
            f"request, or after it) must carry the trailer `Allow-Deletes: {count}`"
            f"{'' if doomed is not None else ', N the resources the unit deploys'}; until then its stack stays, blocked.")


def _plan_at(workspace: PreviewWorkspace, commit: str) -> list[UnitRecord]:
    if not declares_units(workspace, commit):
        return []  # most stacks: no checkout only to find that out
    with workspace.checkout(commit) as checkout:
        return read_plan(workspace.spec, checkout, commit) or []
