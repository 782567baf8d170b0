"""Decisions from data: the engine-error adapter, backoff, the deletion guard, what to run next, how a run moves
the stack's position, and the conditions that position reads as."""

from __future__ import annotations

import dataclasses
import random
from types import SimpleNamespace

import pytest
from pulumi import automation as auto
from pulumi.automation._cmd import CommandResult

from reconciler import errors
from reconciler.decision import Action, decide
from reconciler.errors import (
    EngineInterrupted,
    Stalled,
    Temporary,
    Waiting,
    from_engine,
)
from reconciler.guard import declared_objects, why_preview
from reconciler.policy.deletion_guard import judge
from reconciler.settings import RetryPolicy
from reconciler.status.model import Result, RunKind, RunOutcome, StackState
from reconciler.status.position import advance, backoff, conditions
from testsupport.scripted_workspace import ScriptedWorkspace

POLICY = RetryPolicy(unreachable_delay=15, concurrent_delay=30, backoff_base=10, backoff_cap=600)
RESULT = CommandResult(stdout="", stderr="", code=255)
A, B = "a" * 40, "b" * 40
D1, D2 = "digest-one", "digest-two"


def keys_of(path: str, text: str):
    """The identities of the objects a manifest file declares, as the guard compares them."""
    objects = declared_objects(path, text)
    return None if objects is None else set(objects)


@pytest.mark.parametrize("error, kind, reason, bounded", [
    (auto.ConcurrentUpdateError(RESULT), Waiting, "LockHeld", False),
    (auto.errors.RuntimeError(RESULT), Temporary, "ProgramError", True),
    (auto.errors.CompilationError(RESULT), Temporary, "ProgramError", True),
    (auto.CommandError(RESULT), Temporary, "EngineError", False),
    (EngineInterrupted(RESULT, "signal", "killed"), Temporary, "Interrupted", False),
    (EngineInterrupted(RESULT, "deadline", "too slow"), Temporary, "DeadlineExceeded", False),
])
def test_engine_errors_are_typed_by_the_sdk_class(error, kind, reason, bounded):
    typed = from_engine(error, "the engine's words", backend_reachable=lambda: True, retry=POLICY)

    assert type(typed) is kind and typed.reason == reason and "the engine's words" in typed.message
    assert getattr(typed, "bounded", False) is bounded


def test_a_lock_held_waits_the_concurrent_delay_and_an_unreachable_backend_the_short_one():
    held = from_engine(auto.ConcurrentUpdateError(RESULT), "m", backend_reachable=lambda: True, retry=POLICY)
    down = from_engine(auto.CommandError(RESULT), "no route to host", backend_reachable=lambda: False, retry=POLICY)

    assert held.delay == 30
    assert (down.reason, down.delay) == ("BackendUnreachable", 15)
    assert "no route to host" in down.message


@pytest.mark.parametrize("why, reason", [("signal", "Interrupted"), ("deadline", "DeadlineExceeded")])
def test_an_interrupted_engine_says_how_it_ended_and_that_the_next_pass_recovers(why, reason):
    error = EngineInterrupted(RESULT, why, "pulumi up was killed by SIGKILL")
    typed = from_engine(error, "updating...", backend_reachable=lambda: True, retry=POLICY)

    assert typed.reason == reason
    assert "pulumi up was killed by SIGKILL" in typed.message and "updating..." in typed.message
    assert "next pass" in typed.message


def test_a_program_error_is_not_blamed_on_the_backend_even_when_it_is_down():
    typed = from_engine(auto.errors.RuntimeError(RESULT), "m", backend_reachable=lambda: False, retry=POLICY)
    assert typed.reason == "ProgramError"


def test_backoff_doubles_with_jitter_up_to_the_cap():
    rng = random.Random(7)
    delays = [backoff(failures, POLICY, rng) for failures in range(1, 10)]

    for failures, delay in enumerate(delays, start=1):
        ceiling = min(600, 10 * 2 ** (failures - 1))
        assert ceiling / 2 <= delay <= ceiling
    assert delays[-1] >= 300


@pytest.mark.parametrize("deletes, replaces, threshold, trailer, allowed", [
    (0, 0, 0, None, True),
    (1, 0, 0, None, False),
    (0, 1, 0, None, False),
    (1, 1, 1, None, False),
    (1, 1, 2, None, True),
    (1, 1, 1, 2, True),
    (3, 0, 0, 2, False),
    (5, 5, None, None, True),
])
def test_the_deletion_guard(deletes, replaces, threshold, trailer, allowed):
    verdict = judge(deletes, replaces, threshold, trailer)
    assert verdict.allowed is allowed
    if not allowed:
        assert f"Allow-Deletes: {deletes + replaces}" in verdict.reason
        assert str(threshold) in verdict.reason


def settled_state(**changes) -> StackState:
    base = StackState("web", settled_commit=A, settled_digest=D1, settled_result="applied", last_applied_commit=A,
                      last_applied_digest=D1, last_applied_at=1000.0, last_attempted_commit=A, last_attempted_digest=D1)
    return dataclasses.replace(base, **changes)


def test_decide_runs_a_new_head_and_rests_on_a_settled_one(tiny_spec):
    assert decide(tiny_spec, StackState("web"), A, D1, 1000.0) is Action.APPLY
    assert decide(tiny_spec, settled_state(), A, D1, 1001.0) is None


def test_a_changed_config_digest_runs_the_same_commit_again(tiny_spec):
    assert decide(tiny_spec, settled_state(), A, D2, 1001.0) is Action.APPLY


def test_a_newer_commit_or_config_wins_over_the_backoff_of_an_older_one(tiny_spec):
    backing_off = StackState("web", last_attempted_commit=A, last_attempted_digest=D1, last_result="failed", retry_at=2000.0)

    assert decide(tiny_spec, backing_off, A, D1, 1000.0) is None
    assert decide(tiny_spec, backing_off, A, D1, 1000.0, force=True) is Action.APPLY
    assert decide(tiny_spec, backing_off, A, D1, 2000.0) is Action.APPLY
    assert decide(tiny_spec, backing_off, B, D1, 1000.0) is Action.APPLY
    assert decide(tiny_spec, backing_off, A, D2, 1000.0) is Action.APPLY


def test_a_refused_commit_waits_for_the_next_one_but_once_rechecks_it(tiny_spec):
    spec = dataclasses.replace(tiny_spec, drift_interval=300.0)
    blocked = settled_state(settled_result="blocked", last_applied_commit=B, last_result="blocked", last_drift_check_at=0.0)

    assert decide(spec, blocked, A, D1, 5000.0) is None, "no drift check of a desired state that is not applied"
    assert decide(spec, blocked, A, D1, 5000.0, force=True) is Action.APPLY
    stalled = settled_state(settled_result="failed", last_result="failed")
    assert decide(spec, stalled, A, D1, 5000.0) is None
    assert decide(spec, stalled, A, D1, 5000.0, force=True) is Action.APPLY


def test_drift_checks_come_at_their_interval_after_the_last_apply_or_check(tiny_spec):
    spec = dataclasses.replace(tiny_spec, drift_interval=300.0)
    state = settled_state()

    assert decide(spec, state, A, D1, 1200.0) is None
    assert decide(spec, state, A, D1, 1300.0) is Action.DRIFT
    state.last_drift_check_at = 1300.0
    assert decide(spec, state, A, D1, 1500.0) is None
    assert decide(dataclasses.replace(tiny_spec, drift_interval=None), state, A, D1, 99999.0) is None
    drifted = settled_state(last_result="drifted", last_drift_check_at=1300.0)
    assert decide(spec, drifted, A, D1, 1301.0) is None
    assert decide(spec, drifted, A, D1, 1301.0, force=True) is Action.DRIFT


def outcome(result: Result, commit=A, kind=RunKind.APPLY, resources=None, digest=D1, reason=None) -> RunOutcome:
    return RunOutcome("web", commit, "poll", kind, result, 100.0, 110.0, resources=resources or [], config_digest=digest,
                      reason=reason)


def test_an_applied_commit_is_settled_and_clears_failures():
    state = StackState("web", failures=3, retry_at=5.0)
    advance(state, outcome(Result.APPLIED), None, 3, POLICY)

    assert (state.last_applied_commit, state.settled_commit, state.settled_digest, state.settled_result) == (A, A, D1, "applied")
    assert (state.failures, state.retry_at, state.last_applied_at) == (0, None, 110.0)


def test_failures_of_one_desired_state_count_up_and_a_new_one_starts_again():
    state = StackState("web")
    engine = Temporary("EngineError", "boom")
    for _ in range(3):
        advance(state, outcome(Result.FAILED), engine, 3, POLICY, random.Random(1))
    assert state.failures == 3 and state.settled_commit is None and 110.0 + 20 <= state.retry_at <= 110.0 + 40

    advance(state, outcome(Result.FAILED, commit=B), engine, 3, POLICY)
    assert state.failures == 1 and state.last_attempted_commit == B
    advance(state, outcome(Result.FAILED, commit=B, digest=D2), engine, 3, POLICY)
    assert state.failures == 1, "a config change is a new desired state"


def test_a_program_error_is_retried_a_bounded_number_of_times_then_stalls():
    state = StackState("web", last_applied_commit=B)
    program = Temporary("ProgramError", "raised", bounded=True)
    for attempt in range(1, 4):
        advance(state, outcome(Result.FAILED), program, 3, POLICY)
        assert state.settled_commit is None and state.retry_at is not None, f"attempt {attempt} is retried"
    advance(state, outcome(Result.FAILED), program, 3, POLICY)

    assert (state.settled_commit, state.settled_result, state.retry_at, state.failures) == (A, "failed", None, 4)
    assert state.last_applied_commit == B


def test_a_stalled_error_settles_at_once_and_a_waiting_one_is_no_failure():
    stalled = StackState("web")
    advance(stalled, outcome(Result.FAILED), Stalled("CommitMissing", "gone"), 3, POLICY)
    assert (stalled.settled_result, stalled.failures) == ("failed", 1)

    waiting = StackState("web", failures=0)
    advance(waiting, outcome(Result.FAILED), Waiting("LockHeld", "held", delay=30), 3, POLICY)
    assert (waiting.failures, waiting.retry_at, waiting.needs_recovery) == (0, 140.0, True)


@pytest.mark.parametrize("reason", ["Interrupted", "DeadlineExceeded"])
def test_an_interrupted_engine_marks_the_stack_for_recovery(reason):
    state = StackState("web")
    advance(state, outcome(Result.FAILED, reason=reason), Temporary(reason, "killed"), 3, POLICY)
    assert state.needs_recovery and state.retry_at is not None and state.settled_commit is None


def test_a_failed_recovery_or_source_backs_off_without_touching_the_attempt():
    state = settled_state(failures=0)
    advance(state, outcome(Result.FAILED, commit=None, kind=RunKind.RECOVER), Temporary("SourceUnreachable", "x", delay=15), 3, POLICY)

    assert (state.failures, state.retry_at, state.last_attempted_commit, state.settled_result) == (1, 125.0, A, "applied")


def test_a_drift_check_that_only_looks_leaves_the_commit_standing():
    before = settled_state(settled_commit=B, settled_result="blocked", last_attempted_commit=B, last_applied_commit=A)
    advance(before, outcome(Result.DRIFTED, commit=B, kind=RunKind.DRIFT, resources=[{"urn": "u", "op": "update"}]), None, 3, POLICY)

    assert (before.settled_result, before.last_result, before.drifted, before.last_drift_check_at) == ("blocked", "drifted", 1, 110.0)
    assert before.last_applied_commit == A


def by_type(state: StackState) -> dict[str, tuple[bool, str]]:
    return {c.type: (c.status, c.reason) for c in conditions(state, 500.0)}


def test_conditions_of_a_stack_in_sync_drifted_stalled_and_retrying():
    in_sync = settled_state(observed_commit=A, desired_digest=D1, last_result="applied")
    assert by_type(in_sync) == {"Ready": (True, "ReconciliationSucceeded"), "Reconciling": (False, "Settled"),
                                "Stalled": (False, "NotStalled")}

    drifted = settled_state(observed_commit=A, desired_digest=D1, last_result="drifted", reason="Drifted")
    assert by_type(drifted)["Ready"] == (False, "Drifted")

    stalled = settled_state(observed_commit=A, desired_digest=D1, settled_result="failed", reason="ProgramError")
    assert by_type(stalled) == {"Ready": (False, "ProgramError"), "Reconciling": (False, "Settled"),
                                "Stalled": (True, "ProgramError")}

    retrying = settled_state(observed_commit=B, desired_digest=D1, last_result="failed", reason="LockHeld", retry_at=900.0)
    assert by_type(retrying) == {"Ready": (False, "LockHeld"), "Reconciling": (True, "LockHeld"),
                                 "Stalled": (False, "NotStalled")}

    new_config = settled_state(observed_commit=A, desired_digest=D2)
    assert by_type(new_config)["Ready"][0] is False, "a config not applied yet is not Ready"


def test_a_condition_keeps_its_transition_time_while_its_status_holds():
    state = settled_state(observed_commit=A, desired_digest=D1, last_result="applied")
    state.conditions = conditions(state, 100.0)
    later = conditions(state, 200.0)
    assert {c.type: c.last_transition_at for c in later} == {"Ready": 100.0, "Reconciling": 100.0, "Stalled": 100.0}

    state.conditions = later
    state.observed_commit = B
    moved = {c.type: c.last_transition_at for c in conditions(state, 300.0)}
    assert moved == {"Ready": 300.0, "Reconciling": 300.0, "Stalled": 100.0}


def test_the_reasons_are_one_vocabulary():
    reasons = [value for name, value in vars(errors).items() if name.isupper() and isinstance(value, str)]
    assert len(reasons) == len(set(reasons)) and all(reason[0].isupper() and " " not in reason for reason in reasons)


# The guard's cheap path: which objects a manifest file declares, and when the object sets of two
# commits are enough to skip the preview (and when they are not, the reason it gives).

@pytest.mark.parametrize("text, identity", [
    ("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web, namespace: shop}\n", ("apps", "Deployment", "shop", "web")),
    # the core group is empty, and so is a cluster-scoped object's namespace
    ("apiVersion: v1\nkind: Namespace\nmetadata: {name: shop}\n", ("", "Namespace", "", "shop")),
    # a kind ending in List without items is an object itself
    ("apiVersion: example.com/v1\nkind: AllowList\nmetadata: {name: ips}\n", ("example.com", "AllowList", "", "ips")),
])
def test_an_object_is_known_by_api_group_kind_namespace_and_name(text, identity):
    assert keys_of("m.yaml", text) == {identity}


def test_the_items_of_a_list_are_the_objects_nested_lists_included():
    text = (
        "apiVersion: v1\nkind: List\nitems:\n"
        "- {apiVersion: v1, kind: ConfigMap, metadata: {name: one, namespace: a}}\n"
        "- apiVersion: v1\n  kind: ConfigMapList\n  items:\n"
        "  - {apiVersion: v1, kind: ConfigMap, metadata: {name: two, namespace: a}}\n"
    )
    assert keys_of("m.yaml", text) == {("", "ConfigMap", "a", "one"), ("", "ConfigMap", "a", "two")}


def test_documents_that_are_not_mappings_declare_nothing():
    text = "- just\n- a list\n---\nplain text\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: one}\n"
    assert keys_of("m.yaml", text) == {("", "ConfigMap", "", "one")}


def test_an_object_whose_metadata_is_not_a_mapping_is_still_counted():
    found = keys_of("m.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: broken\n")
    assert [(group, kind, namespace) for group, kind, namespace, _ in found] == [("", "ConfigMap", "")]


def test_a_file_that_is_not_yaml_is_not_manifests():
    assert keys_of("m.yaml", "kind: [unclosed") is None


def guarded_workspace(before: str, after: str, changed=("manifests/app.yaml",)) -> ScriptedWorkspace:
    workspace = ScriptedWorkspace(B)
    workspace.changes[(A, B)] = list(changed)
    for path in changed:
        workspace.files[(A, path)] = before
        workspace.files[(B, path)] = after
    return workspace


ONE = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: one}\n"
TWO = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: two}\n"
SPEC = SimpleNamespace(guard_manifests=("deploy/manifests",))


def reason(workspace, spec=SPEC, last_applied=A, config_changed=False):
    return why_preview(workspace, spec, last_applied, B, config_changed)


def test_a_renamed_object_is_a_deletion_and_is_counted():
    workspace = guarded_workspace(ONE + "---\n" + TWO, TWO.replace("two", "three"), changed=("deploy/manifests/app.yaml",))
    assert reason(workspace) == "2 object(s) are no longer in the manifests"


def test_an_added_object_needs_no_preview_in_a_nested_folder_too():
    workspace = guarded_workspace(ONE, ONE + "---\n" + TWO, changed=("deploy/manifests/web/app.yaml",))
    assert reason(workspace) is None


def test_an_object_moved_between_files_is_not_a_deletion():
    workspace = ScriptedWorkspace(B)
    workspace.changes[(A, B)] = ["deploy/manifests/a.yaml", "deploy/manifests/b.yaml"]
    workspace.files.update({(A, "deploy/manifests/a.yaml"): ONE, (B, "deploy/manifests/b.yaml"): ONE})
    assert reason(workspace) is None


@pytest.mark.parametrize("path", ["deploy/manifests-old/app.yaml", "deploy/app.yaml", "manifests/app.yaml"])
def test_a_file_beside_the_guarded_folder_is_not_a_manifest(path):
    workspace = guarded_workspace(ONE, ONE, changed=(path,))
    assert reason(workspace) == f"{path} changed (not a manifest)"


def test_the_first_stack_run_and_a_changed_config_are_told_apart():
    workspace = guarded_workspace(ONE, ONE)
    assert reason(workspace, last_applied=None) is None
    assert reason(workspace, config_changed=True) == "the stack's config changed"
    assert reason(workspace, spec=SimpleNamespace(guard_manifests=())) == "no guard_manifests folders are configured"


def test_a_last_commit_missing_from_the_checkout_is_named():
    workspace = ScriptedWorkspace(B)
    assert reason(workspace) == f"the last applied commit {A[:12]} is not in the checkout"


def test_an_unreadable_manifest_names_the_file_and_commit():
    workspace = guarded_workspace(ONE, "kind: [unclosed", changed=("deploy/manifests/app.yaml",))
    assert reason(workspace) == f"deploy/manifests/app.yaml at {B[:12]} cannot be read as manifests"


def test_a_typed_error_reads_as_its_message_and_an_interrupted_engine_as_its_output():
    # what a log line or a traceback shows for them
    assert str(Stalled("CommitMissing", "commit abc is gone")) == "commit abc is gone"
    killed = CommandResult(stdout="", stderr="error: the update was killed", code=-9)
    assert "the update was killed" in str(EngineInterrupted(killed, "signal", "pulumi up was killed"))
