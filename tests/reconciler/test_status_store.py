"""The status store on a real SQLite file: runs, repeated failures, stack positions, interrupted runs."""

from __future__ import annotations

import sqlite3

import pytest

from reconciler.status.model import ChangeCounts, Condition, Result, RunKind, RunOutcome, StackState
from reconciler.status.store import StatusStore


@pytest.fixture
def store(tmp_path):
    opened = StatusStore(tmp_path / "status.sqlite")
    yield opened
    opened.close()


def finished(store: StatusStore, result: Result, commit: str = "a" * 40, reason=None, message=None, state=None) -> int:
    run_id = store.start_run("web", commit, "poll", "apply", 100.0)
    outcome = RunOutcome("web", commit, "poll", RunKind.APPLY, result, 100.0, 103.5, ChangeCounts(create=2, same=1),
                         reason=reason, error_message=message, resources=[{"urn": "urn:x", "op": "create"}],
                         config_digest="d1")
    return store.finish_run(run_id, outcome, state)


def test_a_run_is_stored_with_every_field(store):
    run_id = finished(store, Result.APPLIED)

    [run] = store.runs("web")

    assert run["id"] == run_id and run["result"] == "applied" and run["trigger"] == "poll" and run["reason"] is None
    assert run["changes"] == {"create": 2, "update": 0, "replace": 0, "delete": 0, "same": 1}
    assert run["duration_s"] == 3.5 and run["attempts"] == 1
    assert run["resources"] == [{"urn": "urn:x", "op": "create"}]


def test_the_same_failure_again_counts_attempts_instead_of_adding_rows(store):
    first = finished(store, Result.FAILED, reason="SourceUnreachable", message="cannot read")
    again = finished(store, Result.FAILED, reason="SourceUnreachable", message="cannot read")
    other = finished(store, Result.FAILED, reason="SourceUnreachable", message="another message")

    runs = store.runs("web")

    assert again == first and other != first
    assert [(r["error"], r["attempts"]) for r in runs] == [("another message", 1), ("cannot read", 2)]


def test_a_run_that_never_finished_is_found_as_interrupted(store):
    finished(store, Result.APPLIED)
    dangling = store.start_run("web", "b" * 40, "webhook", "apply")
    store.start_run("other", "b" * 40, "webhook", "apply")

    assert [row["id"] for row in store.unfinished_runs("web")] == [dangling]


def test_a_run_and_the_state_it_leads_to_are_written_together(store):
    state = StackState("web", last_applied_commit="a" * 40, needs_recovery=True,
                       conditions=[Condition("Ready", True, "ReconciliationSucceeded", "applied a", 42.0)])
    run_id = finished(store, Result.APPLIED, state=state)

    saved = store.stack_state("web")
    assert saved.last_run_id == run_id and saved.needs_recovery is True
    assert saved.conditions == [Condition("Ready", True, "ReconciliationSucceeded", "applied a", 42.0)]


def test_stack_state_round_trips_and_defaults(store):
    assert store.stack_state("web") == StackState(name="web")
    store.update_state("web", last_applied_commit="c" * 40, failures=2, retry_at=123.0)
    store.update_state("web", observed_commit="d" * 40)

    state = store.stack_state("web")

    assert (state.last_applied_commit, state.observed_commit, state.failures, state.retry_at) == ("c" * 40, "d" * 40, 2, 123.0)
    with pytest.raises(KeyError):
        store.update_state("web", no_such_column=1)


def test_a_read_only_store_reads_while_the_writer_has_it_open(store, tmp_path):
    finished(store, Result.APPLIED)
    reader = StatusStore(tmp_path / "status.sqlite", read_only=True)
    try:
        assert reader.runs("web")[0]["result"] == "applied"
        with pytest.raises(sqlite3.OperationalError):
            reader.start_run("web", None, "poll", "apply")
    finally:
        reader.close()


def test_a_store_from_before_a_new_column_gets_it(tmp_path):
    path = tmp_path / "old.sqlite"
    old = sqlite3.connect(path)
    old.execute("CREATE TABLE stacks (name TEXT PRIMARY KEY, settled_commit TEXT)")
    old.execute("INSERT INTO stacks VALUES ('web', 'abc')")
    old.commit()
    old.close()

    store = StatusStore(path)
    try:
        state = store.stack_state("web")
    finally:
        store.close()
    assert state.settled_commit == "abc" and state.settled_result is None and state.failures == 0
