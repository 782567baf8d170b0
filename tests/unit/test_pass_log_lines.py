"""What a pass tells the operator as it goes, each line on the stack's record (`stack`, and `commit` once
known) and commits shortened to 12 characters as everywhere in the logs: what it runs and why, a skipped
commit, a recovery, and a bug with its traceback (reconciler/README.md, "Errors": InternalError)."""

from __future__ import annotations

import logging

A, B = "a" * 40, "b" * 40


def lines(caplog) -> list[tuple[str, str, object]]:
    return [(r.getMessage(), getattr(r, "stack", None), getattr(r, "commit", None)) for r in caplog.records
            if not hasattr(r, "result")]  # the run's own line is the recorder's (test_run_log_line.py)


def test_a_due_commit_is_logged_with_the_action_and_its_trigger(scripted, caplog):
    stack = scripted()
    caplog.clear()  # this pass's lines only: the root logger may pass the earlier ones through too
    with caplog.at_level(logging.INFO, logger="reconciler"):
        stack.reconciler.reconcile("webhook")

    assert ("apply aaaaaaaaaaaa (webhook)", "tiny", A) in lines(caplog)


def test_a_commit_outside_the_paths_is_logged_as_skipped_naming_the_paths_and_the_applied_commit(scripted, caplog):
    stack = scripted(paths=("app", "manifests"))
    stack.reconciler.reconcile("poll")
    stack.workspace.head = B
    stack.workspace.changes[(A, B)] = ["docs/README.md"]
    caplog.clear()  # this pass's lines only: the root logger may pass the earlier ones through too
    with caplog.at_level(logging.INFO, logger="reconciler"):
        stack.reconciler.reconcile("poll")

    assert ("nothing under app, manifests changed since aaaaaaaaaaaa: skipped", "tiny", B) in lines(caplog)


def test_a_recovery_is_logged_before_and_after(scripted, caplog):
    stack = scripted()
    stack.reconciler.reconcile("poll")
    stack.store.start_run("tiny", A, "poll", "apply")  # left open by a process that died
    caplog.clear()  # this pass's lines only: the root logger may pass the earlier ones through too
    with caplog.at_level(logging.INFO, logger="reconciler"):
        stack.reconciler.reconcile("poll")

    (before, name_before, _), (after, name_after, _) = lines(caplog)[:2]
    assert (before, name_before) == ("the last run did not finish; recovering", "tiny")
    assert after.startswith("recovered: 1 dead lock(s) released") and name_after == "tiny"
    assert [r.levelno for r in caplog.records[:2]] == [logging.WARNING, logging.WARNING]


def test_a_bug_is_logged_with_the_step_it_happened_in_and_its_traceback(scripted, caplog):
    stack = scripted()
    stack.workspace.script("prepare", KeyError("a bug"))
    caplog.clear()  # this pass's lines only: the root logger may pass the earlier ones through too
    with caplog.at_level(logging.INFO, logger="reconciler"):
        stack.reconciler.reconcile("poll")

    [bug] = [r for r in caplog.records if r.exc_info]
    assert (bug.getMessage(), bug.stack, bug.levelno) == ("unexpected error in prepare", "tiny", logging.ERROR)
    assert bug.exc_info[0] is KeyError
