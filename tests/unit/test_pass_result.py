"""What a pass hands back and records: the state it led to, a bug named by its exception type, and a recovery
that prepares the checkout with the stack's own settings (reconciler/README.md, "A pass" and "Errors")."""

from __future__ import annotations

A = "a" * 40


def test_a_pass_returns_the_state_it_recorded_and_when_to_look_again(scripted):
    stack = scripted()

    done = stack.reconciler.reconcile("poll")

    assert done.state is not None and done.state.last_applied_commit == A
    assert done.state.settled_commit == stack.store.stack_state("tiny").settled_commit == A
    assert 0 < done.next_in <= stack.reconciler.spec.resync_interval


def test_a_bug_is_recorded_with_the_exception_type_and_its_words(scripted):
    stack = scripted()
    stack.workspace.script("prepare", KeyError("stack_file"))

    run = stack.reconciler.reconcile("poll").outcome

    assert (run.reason, run.error_message) == ("InternalError", "KeyError: 'stack_file'")


def test_recovery_prepares_the_checkout_with_the_stack_settings_before_it_recovers(scripted):
    stack = scripted()
    stack.reconciler.reconcile("poll")
    stack.store.start_run("tiny", A, "poll", "apply")  # left open by a process that died
    stack.workspace.prepared.clear()
    stack.workspace.calls.clear()

    stack.reconciler.reconcile("poll")

    names = stack.workspace.names()
    assert names.index("prepare") < names.index("recover")
    assert [spec.name for spec in stack.workspace.prepared] == ["tiny", "tiny"]
