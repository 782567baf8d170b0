"""A parent stack's units at one commit: its Pulumi.<stack>.yaml's `pulumi-gitops:units`, planned over its manifests.

The plan is read from a checkout of its own (the parent's is busy with the parent's runs). A unit runs when
its own manifest files change (or one its split gives it is deleted: its `claims`), or anything outside the
manifests and app folders does (the program, a stack file): a commit that changes only other units' manifests
skips it. The app folder reaches a unit only through the parent's image, which is in the unit's desired state
(desired_state.py): a commit there runs the units once the parent's update changed the image, not before.
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath
from typing import Any, Optional

import yaml

from manifest_loader.units import UnitError, plan_units, read_units_from_stack_file, unit_claims, unit_stack_name
from reconciler.engine.stack_file import StackFile, stack_file_name
from reconciler.settings import StackSpec
from reconciler.source.checkout import StackCheckout
from reconciler.source.git_command import run_git

from .record import UnitRecord
from .specs import unit_entry_name

MANIFESTS_DIR_KEY = "pulumi-gitops:manifestsDir"
DEFAULT_MANIFESTS_DIR = "manifests"
APP_DIR_KEY = "pulumi-gitops:appDir"
DEFAULT_APP_DIR = "app"
DEFAULT_NAMESPACE_KEY = "pulumi-gitops:defaultNamespace"
DEFAULT_NAMESPACE = "default"


class UnitPlanError(Exception):
    """The parent's units cannot be planned at this commit; the message names the file and what to fix."""


def read_plan(parent: StackSpec, checkout: StackCheckout, commit: str) -> Optional[list[UnitRecord]]:
    """The parent's units at `commit`, in dependency order; None when its stack file declares none."""
    project = checkout.check_out(commit)
    stack = stack_file_name(parent.stack).removeprefix("Pulumi.")
    try:
        settings = read_units_from_stack_file(project, stack)
        if settings is None:
            return None
        folder = program_setting(project, parent, MANIFESTS_DIR_KEY) or DEFAULT_MANIFESTS_DIR
        namespace = program_setting(project, parent, DEFAULT_NAMESPACE_KEY) or DEFAULT_NAMESPACE
        plan = plan_units(project / folder, settings, default_namespace=namespace)
    except (UnitError, ValueError, OSError) as error:
        raise UnitPlanError(f"{parent.name} at {commit[:12]}: {error}") from None
    manifests = PurePosixPath(parent.project_dir) / folder
    app = PurePosixPath(parent.project_dir) / (program_setting(project, parent, APP_DIR_KEY) or DEFAULT_APP_DIR)
    outside = paths_beside(checkout, commit, (manifests, app))
    return [
        UnitRecord(
            name=unit_entry_name(parent.name, unit.name), parent=parent.name, unit=unit.name,
            pulumi_stack=unit_stack_name(parent.stack, unit.name), position=position, files=unit.files,
            depends_on=unit.depends_on, paths=(*outside, *(_normal(manifests / file) for file in unit.files)),
            planned_at=commit, claims=tuple(_normal(manifests / claim) for claim in unit_claims(settings, unit.name)),
        )
        for position, unit in enumerate(plan.units)
    ]


def program_setting(project: Path, spec: StackSpec, key: str) -> Optional[str]:
    """A text the program reads from its config: the reconciler's override, else the stack file's value, else
    Pulumi.yaml's default."""
    for override in spec.config:
        if override.key == key and not override.secret and isinstance(override.value, str):
            return override.value
    value = StackFile(project, spec.stack).config_entries().get(key)
    if isinstance(value, str) and value:
        return value
    return _declared_default(project, key)


def paths_beside(checkout: StackCheckout, commit: str, folders: tuple[PurePosixPath, ...]) -> tuple[str, ...]:
    """What Git tracks outside `folders`, as the fewest paths: each entry beside the folders' ancestors."""
    holes = {tuple(part for part in folder.parts if part != ".") for folder in folders}
    found: list[str] = []

    def walk(prefix: tuple[str, ...]) -> None:
        where = "/".join(prefix)
        listing = run_git(["ls-tree", "--name-only", "-z", commit, "--", f"{where}/" if where else "."],
                          checkout.spec.credentials, cwd=checkout.repo_dir).stdout
        for entry in filter(None, listing.split("\0")):
            parts = tuple(entry.split("/"))
            if parts in holes:
                continue
            if any(hole[: len(parts)] == parts for hole in holes):
                walk(parts)
            else:
                found.append(entry)

    if () not in holes:  # an app folder that is the whole repository: everything reaches units through the image
        walk(())
    return tuple(found)


def _declared_default(project: Path, key: str) -> Optional[str]:
    for name in ("Pulumi.yaml", "Pulumi.yml"):
        path = project / name
        if path.is_file():
            document: Any = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
            declared = (document.get("config") or {}).get(key)
            default = declared.get("default") if isinstance(declared, dict) else None
            return default if isinstance(default, str) and default else None
    return None


def _normal(path: PurePosixPath) -> str:
    return PurePosixPath(*[part for part in path.parts if part != "."]).as_posix()
