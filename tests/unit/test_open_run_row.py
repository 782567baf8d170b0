"""A run's row is written before anything runs and names what the run does, so a process that dies mid-run
leaves a row that tells the next start which commit was interrupted (reconciler/README.md, "Crash recovery")."""

from __future__ import annotations

A = "a" * 40


def test_while_the_update_runs_its_open_row_names_the_commit_trigger_and_kind(scripted):
    stack = scripted()
    seen = []
    answer = stack.workspace.up

    def up(commit, refresh):
        seen.extend(dict(row) for row in stack.store.unfinished_runs("tiny"))
        seen.append(stack.store.stack_state("tiny"))
        return answer(commit, refresh)

    stack.workspace.up = up
    stack.reconciler.reconcile("webhook")

    open_row, state_during = seen
    assert (open_row["commit_sha"], open_row["trigger"], open_row["kind"]) == (A, "webhook", "apply")
    assert state_during.reconciling is True and state_during.observed_commit == A
    assert {c.type: c.status for c in state_during.conditions}["Reconciling"] is True
