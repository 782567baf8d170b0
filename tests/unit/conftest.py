"""Fixtures of the unit tests here: a stack spec as load_config builds it, and a reconciler on a scripted workspace."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from reconciler.reconcile import StackReconciler
from reconciler.recorder import Recorder
from reconciler.settings import RetryPolicy, StackSpec, load_config
from reconciler.status.store import StatusStore
from reconciler.telemetry.metrics import Metrics
from reconciler.telemetry.redaction import Redactor
from testsupport.reconciler_testing import GitRemote, tiny_stack, write_config
from testsupport.scripted_workspace import ScriptedWorkspace

HEAD = "a" * 40
RETRY = RetryPolicy(unreachable_delay=15, concurrent_delay=30, backoff_base=10, backoff_cap=600)


@pytest.fixture
def spec(tmp_path: Path) -> StackSpec:
    """The `tiny` stack: no paths filter, no guard, no drift checks."""
    remote = GitRemote(tmp_path / "git")
    config = write_config(tmp_path / "reconciler.yaml", [tiny_stack(remote, tmp_path / "backend", secrets_passphrase=None)])
    loaded = load_config(config).stacks[0]
    return dataclasses.replace(loaded, paths=(), deletion_guard=None, drift_interval=None, auto_remediate=False)


@dataclasses.dataclass
class Scripted:
    reconciler: StackReconciler
    workspace: ScriptedWorkspace
    store: StatusStore
    metrics: Metrics


@pytest.fixture
def scripted(spec: StackSpec, tmp_path: Path):
    """A reconciler of `spec` whose git and engine are scripted, with a real store, recorder, metrics and redaction."""
    made = []

    def build(**changes) -> Scripted:
        stack = dataclasses.replace(spec, **changes)
        store = StatusStore(tmp_path / f"status-{len(made)}.sqlite")
        metrics, redactor, workspace = Metrics(), Redactor(["hunter2-secret"]), ScriptedWorkspace(HEAD)
        recorder = Recorder(stack, store, metrics, redactor, RETRY)
        made.append(Scripted(StackReconciler(stack, workspace, recorder, redactor, b"k" * 32), workspace, store, metrics))
        return made[-1]

    yield build
    for each in made:
        each.store.close()
