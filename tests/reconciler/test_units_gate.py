"""A unit's order and removal rules, with the parent and its units on one status store and scripted workspaces.

The parent and the units are reconciled for real (steps, recorder, store) against scripted git and engine
answers, so each gate reads the position the recorder wrote, as in the service. The same rules run on the
real engine in test_units_tiny_project.py.
"""

from __future__ import annotations

import dataclasses
import threading
from pathlib import Path
from types import SimpleNamespace
from typing import Optional

import pytest

from reconciler.engine.operations import EngineReport
from reconciler.errors import PROGRAM_ERROR, Temporary
from reconciler.reconcile import Pass
from reconciler.recorder import Recorder
from reconciler.service.scheduler import Scheduler
from reconciler.status.model import ChangeCounts
from reconciler.status.store import StatusStore
from reconciler.telemetry.metrics import Metrics
from reconciler.telemetry.redaction import Redactor
from reconciler.units.record import UnitRecord
from reconciler.units.removal import UnitRemoval
from reconciler.units.specs import unit_spec
from reconciler.units.unit_reconciler import UnitReconciler
from testsupport.scripted_stack import POLICY, ScriptedStack
from testsupport.scripted_workspace import ScriptedWorkspace

A, B, C = "a" * 40, "b" * 40, "c" * 40
HOUR = 3600.0


def record(unit: str, *depends_on: str, removed_at: Optional[str] = None) -> UnitRecord:
    return UnitRecord(name=f"tiny.{unit}", parent="tiny", unit=unit, pulumi_stack=f"dev.{unit}", position=0,
                      files=(f"{unit}/a.yaml",), depends_on=depends_on, paths=(f"manifests/{unit}/a.yaml",), planned_at=A,
                      removed_at=removed_at, claims=(f"manifests/{unit}/**",))


@pytest.fixture
def family(tiny_spec, tmp_path: Path):
    """The parent `tiny` and its units platform, apps (depends on platform) and web, all at head A."""
    store = StatusStore(tmp_path / "status.sqlite")
    parent_spec = dataclasses.replace(tiny_spec, paths=(), deletion_guard=None, drift_interval=None, resync_interval=HOUR)
    parent = ScriptedStack(parent_spec, store, A)
    units = {unit.unit: ScriptedStack(unit_spec(parent_spec, unit), store, A)
             for unit in (record("platform"), record("apps", "platform"), record("web"))}
    yield parent, units
    store.close()


def waits(done: Pass, *phrases: str) -> str:
    run = done.outcome
    assert run is not None
    assert (run.result.value, run.reason) == ("failed", "DependencyNotReady"), run.error_message
    for phrase in phrases:
        assert phrase in run.error_message
    return run.error_message


def test_a_unit_waits_for_its_parent_without_touching_git_or_the_engine(family):
    parent, units = family
    web = units["web"]

    done = web.run()

    waits(done, f"waiting for tiny to apply {A[:12]}: it has applied nothing yet")
    assert web.workspace.names() == ["find_head"], "no checkout, no engine while it waits"
    assert web.conditions()["Reconciling"] == (True, "DependencyNotReady")
    assert web.conditions()["Stalled"] == (False, "NotStalled") and web.state().failures == 0
    parent.run()
    assert web.run().outcome.result.value == "applied"


def test_a_unit_waits_for_the_units_it_depends_on_and_independent_ones_do_not(family):
    parent, units = family
    parent.run()

    apps_first = units["apps"].run()
    web = units["web"].run()
    units["platform"].run()
    apps_then = units["apps"].run()

    waits(apps_first, f"waiting for tiny.platform to apply {A[:12]}")
    assert web.outcome.result.value == "applied", "web depends on nothing but the parent"
    assert apps_then.outcome.result.value == "applied"


def test_a_commit_deleting_a_units_file_runs_that_unit_and_no_other(family):
    parent, units = family
    parent.run()
    for unit in units.values():
        unit.run()
    parent.workspace.head = B
    parent.run()
    for unit in units.values():
        unit.workspace.head = B
        unit.workspace.changes[(A, B)] = ["manifests/web/gone.yaml"]  # in no unit's files at B: deleted there

    results = {name: unit.run().outcome.result.value for name, unit in units.items()}

    assert results == {"platform": "skipped", "apps": "skipped", "web": "applied"}, "web's split gave it that file"


def test_a_failing_unit_blocks_only_its_dependents(family):
    parent, units = family
    parent.run()
    units["platform"].workspace.script("up", Temporary(PROGRAM_ERROR, "manifests/platform/a.yaml: bad", bounded=True))

    failed = units["platform"].run()
    apps = units["apps"].run()
    web = units["web"].run()

    assert (failed.outcome.result.value, failed.outcome.reason) == ("failed", "ProgramError")
    waits(apps, "waiting for tiny.platform: its last run failed (ProgramError)")
    assert web.outcome.result.value == "applied"


def test_a_parent_in_sync_at_a_newer_commit_holding_the_units_lets_it_run(family):
    parent, units = family
    parent.workspace.head = B
    parent.run()
    web = units["web"]
    web.workspace.ancestry.add((A, B))

    assert web.run().outcome.result.value == "applied"


def test_a_parent_at_a_commit_without_the_units_holds_it_back(family):
    parent, units = family
    parent.workspace.head = B
    parent.run()

    waits(units["web"].run(), f"waiting for tiny to apply {A[:12]}: it is at {B[:12]}, which does not contain it")


class RemovableWorkspace(ScriptedWorkspace):
    """A unit's scripted workspace with the two operations of a removal."""

    def __init__(self, spec, head: str, doomed: int) -> None:
        super().__init__(head)
        self.spec = spec
        self.doomed = [{"urn": f"urn:pulumi:dev.web::tiny::tiny:index:Object::o{i}", "op": "delete"} for i in range(doomed)]

    def destroy_preview(self, commit: str) -> list[dict[str, str]]:
        return self._answer("destroy_preview", commit, self.doomed)

    def destroy(self, commit: str) -> EngineReport:
        return self._answer("destroy", commit, EngineReport(ChangeCounts(delete=len(self.doomed) + 2)))


@pytest.fixture
def removal(tiny_spec, tmp_path: Path):
    store = StatusStore(tmp_path / "status.sqlite")
    removed: list[str] = []

    def make(guard: Optional[int], head: str = B, doomed: int = 2) -> tuple[UnitRemoval, RemovableWorkspace]:
        parent = dataclasses.replace(tiny_spec, deletion_guard=guard)
        spec = unit_spec(parent, record("web", removed_at=B))
        workspace = RemovableWorkspace(spec, head, doomed)
        recorder = Recorder(spec, store, Metrics(), Redactor([]), POLICY)
        return UnitRemoval(workspace, recorder, Redactor([]), on_removed=lambda: removed.append(spec.name)), workspace

    yield make, removed, store
    store.close()


def test_a_removal_over_the_guard_keeps_the_stack_and_says_which_trailer_allows_it(removal):
    make, removed, store = removal
    remover, workspace = make(guard=0)

    blocked = remover.run("test", B, "digest")
    workspace.calls.clear()
    again = remover.run("test", B, "digest")

    run = blocked.outcome
    assert (run.result.value, run.reason, run.commit) == ("blocked", "DeletionGuard", B)
    assert run.error_message.startswith(f"unit web is no longer in the plan at {B[:12]}: removing its stack dev.web: ")
    assert "deletes or replaces 2 resource(s), over this stack's deletion guard of 0" in run.error_message
    assert "commit with the trailer `Allow-Deletes: 2` to allow it; until then the stack stays" in run.error_message
    assert [entry["op"] for entry in run.resources] == ["delete", "delete"]
    assert "destroy" not in [name for name, _ in workspace.calls] and removed == []
    assert again.outcome is None and workspace.names() == ["find_head"], "judged at this head already: nothing runs"
    assert store.stack_state("tiny.web").condition("Stalled").status


def test_a_commit_with_the_trailer_destroys_the_stack_then_forgets_it(removal):
    make, removed, store = removal
    remover, workspace = make(guard=0)
    remover.run("test", B, "digest")
    workspace.head, workspace.trailer = C, 2

    done = remover.run("test", B, "digest")

    assert done.outcome.result.value == "applied" and done.outcome.changes.delete == 4
    assert ("destroy", C) in workspace.calls
    assert removed == ["tiny.web"]


def test_without_a_guard_the_stack_is_destroyed_at_once(removal):
    make, removed, _ = removal
    remover, workspace = make(guard=None, doomed=50)

    done = remover.run("test", B, "digest")

    assert done.outcome.result.value == "applied" and removed == ["tiny.web"]
    assert workspace.names() == ["find_head", "check_out", "prepare", "destroy_preview", "destroy"]


def test_a_destroy_that_fails_keeps_the_unit_to_try_again(removal):
    make, removed, store = removal
    remover, workspace = make(guard=None)
    workspace.script("destroy", Temporary("EngineError", "the backend said no"))

    done = remover.run("test", B, "digest")

    assert (done.outcome.result.value, done.outcome.reason) == ("failed", "EngineError")
    assert done.outcome.error_message == "removing the unit's stack: the backend said no"
    assert removed == [] and store.stack_state("tiny.web").retry_at is not None


def test_the_scheduler_takes_new_units_and_drops_removed_ones():
    ran: list[str] = []
    seen = threading.Condition()

    def run(name: str, reason: str) -> Pass:
        with seen:
            ran.append(f"{name}:{reason}")
            seen.notify_all()
        return Pass(None, HOUR)

    scheduler = Scheduler(["tiny"], run, workers=2)
    scheduler.start()
    try:
        with seen:
            assert seen.wait_for(lambda: "tiny:startup" in ran, 10)
        scheduler.add(["tiny.web"], "units")
        with seen:
            assert seen.wait_for(lambda: "tiny.web:units" in ran, 10)
        scheduler.remove("tiny.web")
        scheduler.trigger(["tiny.web", "tiny"], "webhook")
        with seen:
            assert seen.wait_for(lambda: "tiny:webhook" in ran, 10)
        assert scheduler.next_due("tiny.web") is None
    finally:
        scheduler.stop()
    assert ran.count("tiny.web:units") == 1 and "tiny.web:webhook" not in ran


def test_a_parents_units_share_units_parallel_slots_for_their_passes(tiny_spec):
    slots = threading.BoundedSemaphore(1)
    entered, release = threading.Event(), threading.Event()

    class HeldPass:
        spec = None
        recorder = SimpleNamespace(position_of=lambda name: SimpleNamespace(outputs_digest=None))

        def reconcile(self, trigger: str, force: bool = False) -> Pass:
            entered.set()
            assert release.wait(10)
            return Pass(None, HOUR)

    web = UnitReconciler(tiny_spec, lambda: record("web"), lambda: None, HeldPass(),  # type: ignore[arg-type]
                         SimpleNamespace(workspace=SimpleNamespace(spec=None)), slots, b"k" * 32)  # type: ignore[arg-type]
    running = threading.Thread(target=web.reconcile, args=("test",))
    running.start()
    assert entered.wait(10)
    try:
        assert not slots.acquire(blocking=False), "the pass holds the parent's only slot: no other unit of it starts"
    finally:
        release.set()
        running.join(10)
    assert slots.acquire(blocking=False), "the slot is back once the pass ends"
    assert web.spec is not None and web.spec.name == "tiny.web", "each pass runs with the unit's current record"
