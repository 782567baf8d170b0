"""A pull request's previews of a parent's units: only the units whose paths the pull request changes.

Each unit is previewed as its stack runs: a throwaway checkout at the head, the parent's stack file copied
in under the unit's name (with the parent's salt), and its own comment. A unit the pull request adds has no
state yet: its stack is made when the commit is merged and applied.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Optional

from pulumi import automation as auto

from reconciler.engine.stack_file import copy_stack_file
from reconciler.preview.run import PreviewRun, live_salt, run_preview
from reconciler.preview.workspace import PreviewWorkspace, RefNotFound
from reconciler.reconcile import under_paths
from reconciler.settings import ServiceConfig, StackSpec
from reconciler.source.git_command import GitError, run_git
from reconciler.telemetry.redaction import Redactor

from .planning import UnitPlanError, read_plan
from .record import UnitRecord
from .specs import unit_spec

log = logging.getLogger("reconciler.preview")


def changed_units(workspace: PreviewWorkspace, known: list[UnitRecord], base: Optional[str], head: str) -> list[UnitRecord]:
    """The units of the plan at the pull request's head whose paths differ between where it branched from its base
    and its head. Without a base (or a plan at the head) every unit the service knows is previewed."""
    parent = workspace.spec
    active = [record for record in known if record.removed_at is None]
    if base is None:
        return active
    try:
        with workspace.checkout(head) as checkout:
            planned = read_plan(parent, checkout, head)
        workspace.resolve(base)
        output = run_git(["diff", "--no-renames", "--name-only", "-z", f"{base}...{head}", "--"], parent.credentials,
                         cwd=workspace.cache).stdout
    except (UnitPlanError, RefNotFound, GitError) as error:
        log.warning("cannot tell which units %s..%s changes (%s): previewing them all", base[:12], head[:12], error,
                    extra={"stack": parent.name})
        return active
    changed = [path for path in output.split("\0") if path]
    return [record for record in planned or [] if any(under_paths(path, record.paths) for path in changed)]


def preview_unit(
    config: ServiceConfig, parent: StackSpec, record: UnitRecord, command: auto.PulumiCommand, redactor: Redactor,
    commit: str, base: Optional[str],
) -> PreviewRun:
    spec = unit_spec(parent, record)

    def parents_stack_file(project: Path) -> None:
        copy_stack_file(project, parent.stack, spec.stack, lambda: live_salt(config, parent))

    workspace = PreviewWorkspace(spec, config.state_dir)
    return run_preview(config, workspace, command, redactor, workspace.resolve(commit), base, prepare_checkout=parents_stack_file)
