"""The reconcile's steps, their order, the typed errors and the recorder, against a scripted workspace.

Real status store (SQLite in a temporary folder), real recorder, metrics and redaction; only the
workspace (git and the engine) is scripted, so each scenario runs in milliseconds. The same faults are
tested on the real engine in test_reconcile_faults.py.
"""

from __future__ import annotations

import dataclasses

import pytest

from reconciler.engine.operations import EngineReport, PreviewReport
from reconciler.errors import Stalled, Temporary, Waiting
from reconciler.settings import ConfigOverride
from reconciler.status.model import ChangeCounts
from reconciler.status.store import StatusStore
from testsupport.scripted_stack import ScriptedStack

A, B, C = "a" * 40, "b" * 40, "c" * 40
FULL_PASS = ["recover", "observe", "decide", "gate", "check_out", "filter", "prepare", "guard", "apply"]


@pytest.fixture
def harness(tiny_spec, tmp_path):
    spec = dataclasses.replace(tiny_spec, paths=(), deletion_guard=None, drift_interval=None, auto_remediate=False)
    made = ScriptedStack(spec, StatusStore(tmp_path / "status.sqlite"))
    yield made
    made.store.close()


def test_a_first_pass_runs_every_step_in_order_and_records_one_applied_run(harness):
    done = harness.run()

    assert harness.reconciler.steps and [name for name, _ in harness.reconciler.steps] == FULL_PASS
    assert harness.workspace.names() == ["find_head", "check_out", "prepare", "up"]
    assert done.outcome.result.value == "applied" and done.outcome.commit == A
    assert done.outcome.finished_at >= done.outcome.started_at > 0
    state = harness.state()
    assert (state.observed_commit, state.last_attempted_commit, state.last_applied_commit, state.settled_commit) == (A, A, A, A)
    assert harness.conditions() == {"Ready": (True, "ReconciliationSucceeded"), "Reconciling": (False, "Settled"),
                                    "Stalled": (False, "NotStalled")}
    [run] = harness.store.runs("tiny")
    assert run["result"] == "applied" and run["finished_at"] is not None and state.last_run_id == run["id"]
    assert (run["commit"], run["trigger"], run["kind"]) == (A, "test", "apply")
    assert run["started_at"] <= run["finished_at"]


def test_a_settled_head_runs_nothing_and_writes_no_run(harness):
    harness.run()
    done = harness.run(force=True)

    assert done.outcome is None and harness.workspace.names() == ["find_head"]
    assert len(harness.store.runs("tiny")) == 1 and harness.state().observed_at is not None


def test_a_rotated_secret_file_is_a_new_desired_state(harness, tmp_path):
    secret_file = tmp_path / "token"
    secret_file.write_text("first-token-value")
    harness.respec(config=(ConfigOverride("tiny:token", "first-token-value", secret=True, source=secret_file),))
    harness.run()
    assert harness.run().outcome is None

    secret_file.write_text("rotated-token-value")
    done = harness.run()

    assert done.outcome is not None and done.outcome.result.value == "applied" and done.outcome.commit == A
    assert harness.workspace.prepared[-1].config[0].value == "rotated-token-value"
    assert "rotated-token-value" not in str(harness.store.stack_state("tiny"))


def test_a_program_error_is_retried_three_times_then_stalls_until_a_new_commit(harness):
    program_error = Temporary("ProgramError", "ValueError: manifests/x.yaml is broken", bounded=True)
    harness.workspace.script("up", *[program_error] * 4)
    for attempt in range(4):
        done = harness.run(force=True)
        assert done.outcome.result.value == "failed" and done.outcome.reason == "ProgramError"
    state = harness.state()
    assert state.settled_result == "failed" and state.failures == 4 and state.retry_at is None
    assert harness.conditions()["Stalled"] == (True, "ProgramError")
    assert harness.run().outcome is None, "a stalled commit is not tried again by the poll"

    harness.workspace.head = B
    assert harness.run().outcome.result.value == "applied"
    assert harness.conditions()["Stalled"] == (False, "NotStalled")


def test_a_transient_program_failure_is_retried_and_clears(harness):
    harness.workspace.script("up", Temporary("ProgramError", "the token call timed out", bounded=True))
    assert harness.run().outcome.result.value == "failed"
    state = harness.state()
    assert state.retry_at is not None and state.settled_commit is None
    assert harness.run().outcome is None, "not before its retry time"

    assert harness.run(force=True).outcome.result.value == "applied"
    assert harness.state().failures == 0


def test_a_source_failure_is_recorded_with_its_backoff(harness):
    harness.workspace.script("find_head", Temporary("SourceUnreachable", "cannot reach the remote", delay=15))
    done = harness.run()

    assert done.outcome.result.value == "failed" and done.outcome.commit is None
    state = harness.state()
    assert state.failures == 1 and state.retry_at == pytest.approx(done.outcome.finished_at + 15, abs=1)
    assert 0 < done.next_in <= 15
    assert harness.store.runs("tiny")[0]["reason"] == "SourceUnreachable"


def test_a_run_a_dead_process_left_open_is_recovered_against_the_current_head_first(harness):
    harness.run()
    dangling = harness.store.start_run("tiny", B, "poll", "apply")  # B was force-pushed away since
    harness.workspace.head = C

    done = harness.run()

    assert harness.workspace.names() == ["find_head", "check_out", "prepare", "recover", "check_out", "prepare", "up"]
    assert harness.workspace.calls[1] == ("check_out", C)
    assert done.outcome.result.value == "applied" and done.outcome.commit == C
    interrupted = next(run for run in harness.store.runs("tiny") if run["id"] == dangling)
    assert interrupted["result"] == "failed" and interrupted["reason"] == "Interrupted"
    assert "1 dead lock(s) released" in interrupted["error"]
    # it is closed as the run it was: its commit, trigger and kind kept
    assert (interrupted["commit"], interrupted["trigger"], interrupted["kind"]) == (B, "poll", "apply")
    assert interrupted["started_at"] <= interrupted["finished_at"]
    assert harness.store.unfinished_runs("tiny") == [] and not harness.state().needs_recovery


def test_after_a_recovery_the_head_stays_due_until_an_apply_succeeds(harness):
    harness.run()
    harness.store.start_run("tiny", B, "poll", "apply")
    harness.workspace.script("up", Temporary("EngineError", "the API server went away"))

    assert harness.run().outcome.result.value == "failed"
    assert harness.state().settled_commit is None, "the settled head may have been half-changed by the dead run"
    assert harness.run(force=True).outcome.result.value == "applied"


def test_a_failed_recovery_is_recorded_as_failed_and_tried_again(harness):
    harness.run()
    harness.store.start_run("tiny", B, "poll", "apply")
    harness.workspace.script("find_head", Temporary("SourceUnreachable", "the remote is down", delay=15))

    done = harness.run(force=True)

    assert done.outcome.result.value == "failed" and done.outcome.kind.value == "recover"
    assert "recovery failed" in done.outcome.error_message
    assert "up" not in harness.workspace.names()
    assert len(harness.store.unfinished_runs("tiny")) == 1, "the interrupted run stays open until recovery works"

    again = harness.run(force=True)
    assert "recover" in harness.workspace.names() and again.outcome.result.value == "applied"


def test_a_live_lock_during_recovery_is_waited_for_never_released(harness):
    harness.run()
    harness.store.start_run("tiny", A, "poll", "apply")
    harness.workspace.head = B
    harness.workspace.script("recover", Waiting("LockHeld", "the stack is locked by ops@host (pid 7) since 10:00", delay=30))

    done = harness.run(force=True)

    assert done.outcome.reason == "LockHeld" and "ops@host (pid 7)" in done.outcome.error_message
    assert "up" not in harness.workspace.names()
    assert harness.conditions()["Reconciling"] == (True, "LockHeld")
    assert harness.state().failures == 1 and harness.state().needs_recovery


def test_an_engine_killed_mid_update_is_recovered_at_the_next_pass(harness):
    harness.workspace.script("up", Temporary("Interrupted", "the pulumi CLI ended by signal SIGKILL"))
    killed = harness.run()
    assert killed.outcome.reason == "Interrupted" and harness.state().needs_recovery

    done = harness.run(force=True)

    assert harness.workspace.names().index("recover") < harness.workspace.names().index("up")
    assert done.outcome.result.value == "applied" and not harness.state().needs_recovery


def test_a_lock_held_during_the_update_waits_without_counting_a_failure_and_looks_at_the_lock_next(harness):
    harness.workspace.script("up", Waiting("LockHeld", "locked by someone", delay=30))
    done = harness.run()
    state = harness.state()

    assert done.outcome.reason == "LockHeld" and state.failures == 0 and state.needs_recovery
    assert state.retry_at == pytest.approx(done.outcome.finished_at + 30, abs=1)


def test_a_missing_commit_stalls_until_the_branch_moves(harness):
    harness.workspace.script("check_out", Stalled("CommitMissing", "the remote does not hold it"))
    harness.run()
    assert harness.conditions()["Stalled"] == (True, "CommitMissing")
    harness.workspace.head = B
    assert harness.run().outcome.result.value == "applied"


def test_a_bug_in_a_step_is_recorded_as_an_internal_error_not_raised(harness):
    harness.workspace.script("prepare", KeyError("a bug"))
    done = harness.run()
    assert done.outcome.result.value == "failed" and done.outcome.reason == "InternalError"
    assert harness.state().retry_at is not None


def test_secrets_in_an_error_are_redacted_before_they_are_stored(harness):
    harness.workspace.script("up", Temporary("EngineError", "it failed with hunter2-secret in the message"))
    harness.run()
    stored = " ".join(harness.store.iter_all_text())
    assert "hunter2-secret" not in stored and "[redacted]" in stored


def test_commits_outside_the_paths_are_skipped_unless_the_config_changed(harness):
    harness.respec(paths=("manifests/",))
    harness.run()
    harness.workspace.head = B
    harness.workspace.changes[(A, B)] = ["README.md"]

    skipped = harness.run()

    assert skipped.outcome.result.value == "skipped" and "up" not in harness.workspace.names()
    assert harness.state().last_applied_commit == A and harness.conditions()["Ready"][0] is True
    harness.workspace.head = C
    harness.workspace.changes[(A, C)] = ["manifests/app.yaml"]
    assert harness.run().outcome.result.value == "applied"


MANIFEST_1 = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: one}\n"
MANIFEST_2 = MANIFEST_1 + "---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: two}\n"


def guarded(harness, before: str, after: str):
    harness.respec(deletion_guard=0, guard_manifests=("manifests",))
    harness.run()
    harness.workspace.head = B
    harness.workspace.changes[(A, B)] = ["manifests/app.yaml"]
    harness.workspace.files[(A, "manifests/app.yaml")] = before
    harness.workspace.files[(B, "manifests/app.yaml")] = after


def test_the_guard_needs_no_preview_when_the_object_sets_lose_nothing(harness):
    guarded(harness, MANIFEST_1, MANIFEST_2)
    assert harness.run().outcome.result.value == "applied"
    assert "preview" not in harness.workspace.names()


DEPLOYMENT = "apiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: web}}\nspec:\n  replicas: {replicas}\n  selector: {{matchLabels: {{app: {app}}}}}\n"


@pytest.mark.parametrize("before, after, previews", [
    # A selector change is a delete and create by the provider: the guard must see it.
    (DEPLOYMENT.format(replicas=1, app="web"), DEPLOYMENT.format(replicas=1, app="web-v2"), True),
    # Replicas change in place.
    (DEPLOYMENT.format(replicas=1, app="web"), DEPLOYMENT.format(replicas=3, app="web"), False),
    # A ConfigMap's data changes in place, unless the ConfigMap is immutable.
    (MANIFEST_1 + "data: {a: '1'}\n", MANIFEST_1 + "data: {a: '2'}\n", False),
    (MANIFEST_1 + "immutable: true\ndata: {a: '1'}\n", MANIFEST_1 + "immutable: true\ndata: {a: '2'}\n", True),
])
def test_the_guard_previews_a_manifest_change_the_provider_applies_as_a_replacement(harness, before, after, previews):
    guarded(harness, before, after)
    harness.run()
    assert ("preview" in harness.workspace.names()) is previews


def test_the_guard_previews_and_blocks_when_an_object_goes_away(harness):
    guarded(harness, MANIFEST_2, MANIFEST_1)
    doomed = [{"urn": "urn:pulumi:x::p::kubernetes:core/v1:ConfigMap::two", "op": "delete"}]
    harness.workspace.script("preview", PreviewReport(ChangeCounts(delete=1), doomed, doomed))

    done = harness.run()

    assert done.outcome.result.value == "blocked" and done.outcome.reason == "DeletionGuard"
    assert "Allow-Deletes: 1" in done.outcome.error_message and "ConfigMap::two" in done.outcome.error_message
    assert "up" not in harness.workspace.names()
    assert harness.conditions()["Stalled"] == (True, "DeletionGuard")


def test_a_trailer_lets_the_guard_pass(harness):
    guarded(harness, MANIFEST_2, MANIFEST_1)
    harness.workspace.trailer = 1
    harness.workspace.script("preview", PreviewReport(ChangeCounts(delete=1), [], []))
    assert harness.run().outcome.result.value == "applied"


@pytest.mark.parametrize("changed", [["manifests/app.yaml", "program.py"], ["Pulumi.local.yaml"]])
def test_the_guard_previews_when_more_than_manifests_changed(harness, changed):
    guarded(harness, MANIFEST_1, MANIFEST_2)
    harness.workspace.changes[(A, B)] = changed
    harness.run()
    assert "preview" in harness.workspace.names()


def test_the_guard_previews_a_manifest_it_cannot_read(harness):
    guarded(harness, MANIFEST_1, "kind: [unclosed")
    harness.run()
    assert "preview" in harness.workspace.names()


def test_drift_is_reported_or_remediated(harness):
    harness.respec(drift_interval=0.0)
    harness.run()
    found = EngineReport(ChangeCounts(update=1), [{"urn": "urn:cm", "op": "update"}])
    harness.workspace.script("drift", found)

    drifted = harness.run()
    assert drifted.outcome.result.value == "drifted" and harness.conditions()["Ready"] == (False, "Drifted")
    assert harness.state().drifted == 1

    harness.respec(drift_interval=0.0, auto_remediate=True)
    harness.workspace.script("drift", found)
    remediated = harness.run(force=True)
    assert remediated.outcome.result.value == "remediated"
    assert ("up", (A, True)) in harness.workspace.calls
    assert harness.conditions()["Ready"] == (True, "ReconciliationSucceeded")


def test_the_update_and_the_guard_preview_run_the_head_commit_without_a_refresh(harness):
    guarded(harness, MANIFEST_2, MANIFEST_1)
    harness.workspace.trailer = 1
    harness.workspace.script("preview", PreviewReport(ChangeCounts(delete=1), [], []))
    harness.run()
    assert ("preview", B) in harness.workspace.calls and ("up", (B, False)) in harness.workspace.calls


def test_a_blocked_run_lists_what_goes_away_why_it_is_replaced_and_how_many_more(harness):
    guarded(harness, MANIFEST_2, MANIFEST_1)
    replaced = {"urn": "urn:pulumi:x::p::kubernetes:apps/v1:Deployment::web", "op": "replace", "fields": "spec.selector"}
    deleted = [{"urn": f"urn:pulumi:x::p::kubernetes:core/v1:ConfigMap::cm{i}", "op": "delete"} for i in range(200)]
    doomed = [replaced, *deleted]
    harness.workspace.script("preview", PreviewReport(ChangeCounts(delete=200, replace=1), doomed, doomed))

    message = harness.run().outcome.error_message

    assert "replace urn:pulumi:x::p::kubernetes:apps/v1:Deployment::web (replaced: spec.selector cannot change in place)" in message
    listed = message.count("\n  delete urn:")
    assert 0 < listed < 200 and message.endswith(f"\n  ... and {200 - listed} more")


def test_the_stack_salt_is_remembered_for_the_next_fresh_checkout(harness):
    harness.reconciler.recorder.remember_salt("v1:salt-of-this-stack")
    assert harness.state().encryption_salt == "v1:salt-of-this-stack"


def test_the_next_scheduled_pass_is_shown_in_the_state(harness):
    harness.reconciler.recorder.scheduled(1_900_000_000.0)
    assert harness.state().next_run_at == 1_900_000_000.0
