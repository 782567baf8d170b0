"""A unit runs again when what it reads of its parent's outputs (cluster, image) changes, and only then.

The parent and a unit are reconciled for real (steps, recorder, one status store) against scripted git and
engine answers; the unit through its UnitReconciler, which puts the parent's published outputs digest in the
unit's desired state. Paths: the app folder is not among a unit's (test_units_config.py).
"""

from __future__ import annotations

import dataclasses
import threading
from pathlib import Path
from types import SimpleNamespace

import pytest

from reconciler.errors import BACKEND_UNREACHABLE, Temporary
from reconciler.promotion import position_of
from reconciler.settings import ConfigOverride
from reconciler.status.store import StatusStore
from reconciler.units.record import UnitRecord
from reconciler.units.specs import unit_spec
from reconciler.units.unit_reconciler import UnitReconciler
from testsupport.scripted_stack import ScriptedStack

A, B = "a" * 40, "b" * 40
HOUR = 3600.0
KUBECONFIG = "apiVersion: v1\nusers: [{user: {token: s3cr3t-token}}]\n"
WEB = UnitRecord(name="tiny.web", parent="tiny", unit="web", pulumi_stack="dev.web", position=0, files=("web/a.yaml",),
                 depends_on=(), paths=("manifests/web/a.yaml", "Pulumi.dev.yaml"), planned_at=A)


class Family:
    def __init__(self, tiny_spec, store: StatusStore) -> None:
        spec = dataclasses.replace(tiny_spec, paths=(), deletion_guard=None, drift_interval=None, resync_interval=HOUR)
        self.parent = ScriptedStack(spec, store, A)
        self.parent.workspace.outputs = {"kubeconfig": KUBECONFIG, "imageRef": "registry/app@sha256:1"}
        self.unit = ScriptedStack(unit_spec(spec, WEB), store, A)
        removal = SimpleNamespace(workspace=SimpleNamespace(spec=None))
        self.web = UnitReconciler(spec, lambda: WEB, lambda: None, self.unit.reconciler, removal,  # type: ignore[arg-type]
                                  threading.Semaphore(1), b"k" * 32)

    def update_parent(self, **outputs: str) -> None:
        """The parent applies again at its head (here: an override of its changed), its outputs as given."""
        self.parent.workspace.outputs = {**self.parent.workspace.outputs, **outputs}
        self.parent.respec(config=(*self.parent.spec.config, ConfigOverride("tiny:greeting", f"hello {len(self.parent.spec.config)}")))
        assert self.parent.run().outcome.result.value == "applied"

    def run_unit(self):
        self.unit.workspace.calls.clear()
        return self.web.reconcile("test")

    def move_to(self, head: str, changed: list[str]) -> None:
        self.parent.workspace.head = self.unit.workspace.head = head
        self.unit.workspace.changes[(A, head)] = changed


@pytest.fixture
def family(tiny_spec, tmp_path: Path):
    store = StatusStore(tmp_path / "status.sqlite")
    yield Family(tiny_spec, store)
    store.close()


def test_a_parent_update_that_changes_the_image_runs_the_unit_again_at_the_same_commit(family):
    family.parent.run()
    assert family.run_unit().outcome.result.value == "applied"
    assert family.run_unit().outcome is None, "in sync: nothing to do"

    family.update_parent(imageRef="registry/app@sha256:2")
    again = family.run_unit()

    assert again.outcome.result.value == "applied" and again.outcome.commit == A
    assert ("up", (A, False)) in family.unit.workspace.calls


def test_a_parent_update_that_leaves_those_outputs_alone_runs_no_unit(family):
    family.parent.run()
    family.run_unit()
    family.update_parent()  # the same values, read again

    assert family.run_unit().outcome is None


def test_a_commit_to_the_app_alone_runs_the_unit_only_if_the_image_changed(family):
    family.parent.run()
    family.run_unit()
    family.move_to(B, ["app/main.py"])
    family.parent.run()

    skipped = family.run_unit()
    assert skipped.outcome.result.value == "skipped" and "up" not in family.unit.workspace.names()

    family.update_parent(imageRef="registry/app@sha256:2")
    assert family.run_unit().outcome.result.value == "applied"


def test_the_digest_is_kept_and_published_never_the_outputs(family):
    family.parent.run()

    state = family.parent.state()
    assert state.outputs_digest is not None and len(state.outputs_digest) == 20
    assert position_of(state).outputs_digest == state.outputs_digest, "what other replicas' units read"
    stored = (family.parent.store.path.read_bytes() + Path(f"{family.parent.store.path}-wal").read_bytes())
    assert b"s3cr3t-token" not in stored and b"sha256:1" not in stored


def test_outputs_that_cannot_be_read_fail_the_parents_run_and_the_unit_waits(family):
    family.parent.workspace.outputs = Temporary(BACKEND_UNREACHABLE, "the backend did not answer")

    failed = family.parent.run()
    waiting = family.run_unit()

    assert (failed.outcome.result.value, failed.outcome.reason) == ("failed", BACKEND_UNREACHABLE)
    assert failed.state.outputs_digest is None
    assert waiting.outcome.reason == "DependencyNotReady" and "up" not in family.unit.workspace.names()


def test_a_stack_without_units_keeps_no_digest(family):
    family.parent.workspace.outputs = None

    family.parent.run()

    assert family.parent.state().outputs_digest is None


def test_a_parent_position_that_lost_its_digest_does_not_run_the_unit_again(family):
    family.parent.run()
    family.run_unit()
    family.parent.store.update_state("tiny", outputs_digest=None)  # e.g. a new holder that has not updated it yet

    assert family.run_unit().outcome is None
