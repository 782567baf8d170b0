"""A unit stack's workspace: the stack's own, with its parent's stack file copied in and the destroy operations.

The copy keeps the parent's encryption salt (from the file, else the one the parent's state uses), so the
parent's passphrase decrypts the secrets committed there, and nothing has to be committed for a unit.
Beside the checkout it writes the unit's plan (manifest_loader/unit_plan_file.py) for the program, which then
need not plan every unit again.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Optional

from pulumi import automation as auto

from manifest_loader.unit_plan_file import PLAN_FILE_ENV, UnitPlanFile, write_unit_plan
from reconciler.engine.event_log import EventLog
from reconciler.engine.operations import EngineReport, OperationFailed
from reconciler.engine.stack_file import copy_stack_file
from reconciler.settings import RetryPolicy, StackSpec
from reconciler.status.model import ChangeCounts
from reconciler.telemetry.redaction import Redactor
from reconciler.workspace import StackWorkspace

from .record import UnitRecord

# Resources every stack has: its root, its providers, its reference to the parent. Removing a unit's stack
# deletes them too; the deletion guard counts what a unit deploys.
_ALWAYS_THERE = ("pulumi:pulumi:Stack", "pulumi:providers:", "pulumi:pulumi:StackReference")


class UnitWorkspace(StackWorkspace):
    def __init__(
        self, spec: StackSpec, parent: StackSpec, parent_salt: Callable[[], Optional[str]], state_dir: Path,
        pulumi_root: Optional[str], redactor: Redactor, retry: RetryPolicy,
        remembered_salt: Callable[[], Optional[str]], remember_salt: Callable[[str], None],
        record_of: Callable[[], Optional[UnitRecord]],
    ) -> None:
        super().__init__(spec, state_dir, pulumi_root, redactor, retry, remembered_salt, remember_salt)
        self.parent = parent
        self._parent_salt = parent_salt
        self._record_of = record_of
        # Outside the checkout, so no commit can bring or change it.
        self.plan_file = self.root / "unit-plan.json"

    def engine_env(self) -> dict[str, str]:
        return {PLAN_FILE_ENV: str(self.plan_file)}

    def check_out(self, commit: str) -> None:
        super().check_out(commit)
        copy_stack_file(self.checkout.project_path, self.parent.stack, self.spec.stack, self._parent_salt)
        self._hand_plan()

    def _hand_plan(self) -> None:
        """The unit's current record for the program; the program itself checks that it is for the commit it runs."""
        record = self._record_of()
        if record is None or record.removed_at is not None:
            self.plan_file.unlink(missing_ok=True)
            return
        write_unit_plan(self.plan_file, UnitPlanFile(
            stack=record.pulumi_stack.rsplit("/", 1)[-1], unit=record.unit, commit=record.planned_at,
            files=record.files, depends_on=record.depends_on,
        ))

    def outputs_for_units(self) -> None:
        """None: a unit's stack file is its parent's copy, units declared and all, but a unit has no units."""
        return None

    def destroy_preview(self, commit: str) -> list[dict[str, str]]:
        """The resources removing the stack deletes (what the unit deploys)."""
        def call() -> list[dict[str, str]]:
            events = EventLog("destroy-preview", self.spec.name, commit, self.redactor)
            try:
                self.session.stack.preview_destroy(on_output=events.on_output, on_event=events.on_event, color="never")
            except auto.CommandError as error:
                raise OperationFailed("destroy-preview", error, events.error_text(error)) from error
            finally:
                self.session.after_run()
            return [entry for entry in events.doomed() if deployed_by_unit(entry["urn"])]

        return self._engine(call)

    def destroy(self, commit: str) -> EngineReport:
        """Destroys every resource, then removes the stack from its backend (`stack rm`)."""
        def call() -> EngineReport:
            events = EventLog("destroy", self.spec.name, commit, self.redactor)
            try:
                self.session.stack.destroy(on_output=events.on_output, on_event=events.on_event, color="never",
                                           remove=True, show_secrets=False, message=f"reconciler: unit removed at {commit[:12]}")
            except auto.CommandError as error:
                raise OperationFailed("destroy", error, events.error_text(error)) from error
            return EngineReport(ChangeCounts.from_op_map(events.resource_changes), events.changed())

        return self._engine(call)


def deployed_by_unit(urn: str) -> bool:
    """Whether the resource counts for the deletion guard when the unit's stack is removed."""
    return not _resource_type(urn).startswith(_ALWAYS_THERE)


def _resource_type(urn: str) -> str:
    """`urn:pulumi:stack::project::parent$type::name` -> `type`."""
    parts = urn.split("::")
    return parts[2].rsplit("$", 1)[-1] if len(parts) > 3 else ""
