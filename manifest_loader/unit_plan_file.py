"""One unit's plan as the reconciler hands it to the unit stack's program: a JSON file named by an env var.

The reconciler plans a parent's units once per commit. Without this file every unit stack's program would
plan them again, parsing every manifest of every unit (seconds and hundreds of MB at 5,000 objects), only
to find its own files. The file is trusted only for the unit and stack it names and the commit it was
planned at: anything else, and the program plans itself.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Union

from .git_source import open_repository
from .units import Unit

PLAN_FILE_ENV = "GITOPS_UNIT_PLAN_FILE"
FORMAT = 1  # a reader refuses any other: an old program never misreads a newer reconciler's file


class UnitPlanFileError(ValueError):
    """The file cannot be read as a unit plan."""


@dataclass(frozen=True)
class UnitPlanFile:
    stack: str  # the unit's stack as the program names it (pulumi.get_stack()): `<stack>.<unit>`, no org/project
    unit: str
    commit: str  # 40-hex commit the plan was read at
    files: tuple[str, ...]  # relative to the manifests folder
    depends_on: tuple[str, ...]

    def as_unit(self) -> Unit:
        return Unit(self.unit, self.files, self.depends_on)


def write_unit_plan(path: Union[str, os.PathLike], plan: UnitPlanFile) -> None:
    """Replaces the file at once (a program starting meanwhile reads the old one or the new one, never half)."""
    data = {"format": FORMAT, "stack": plan.stack, "unit": plan.unit, "commit": plan.commit,
            "files": list(plan.files), "dependsOn": list(plan.depends_on)}
    folder = Path(path).parent
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", encoding="utf-8", dir=folder, suffix=".tmp", delete=False) as out:
        json.dump(data, out)
    os.replace(out.name, path)


def read_unit_plan(path: Union[str, os.PathLike]) -> UnitPlanFile:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise UnitPlanFileError(f"{path}: cannot be read ({error})") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise UnitPlanFileError(f"{path}: not a unit plan of format {FORMAT}")
    texts = {key: data.get(key) for key in ("stack", "unit", "commit")}
    lists = {key: data.get(key) for key in ("files", "dependsOn")}
    if not all(isinstance(value, str) and value for value in texts.values()) or not all(
        isinstance(value, list) and all(isinstance(item, str) and item for item in value) for value in lists.values()
    ):
        raise UnitPlanFileError(f"{path}: a unit plan needs stack, unit, commit, files and dependsOn")
    return UnitPlanFile(stack=data["stack"], unit=data["unit"], commit=data["commit"],
                        files=tuple(data["files"]), depends_on=tuple(data["dependsOn"]))


def handed_unit(manifests_dir: Union[str, os.PathLike], stack: str, unit: str) -> tuple[Optional[Unit], str]:
    """The unit from the file $GITOPS_UNIT_PLAN_FILE names when it is for this stack and unit at the commit
    checked out under manifests_dir; else None and why (the caller plans itself)."""
    path = os.environ.get(PLAN_FILE_ENV)
    if not path:
        return None, f"{PLAN_FILE_ENV} is not set"
    try:
        plan = read_unit_plan(path)
    except UnitPlanFileError as error:
        return None, str(error)
    if (plan.stack, plan.unit) != (stack, unit):
        return None, f"{path} is for {plan.stack} (unit {plan.unit}), not {stack} (unit {unit})"
    # HEAD alone, no file read: the plan at that commit is the one plan_units would make here.
    with open_repository(manifests_dir) as repo:
        head = repo.head.commit.hexsha
    if plan.commit != head:
        return None, f"{path} was planned at {plan.commit[:12]}, the manifests are at {head[:12]}"
    return plan.as_unit(), ""
