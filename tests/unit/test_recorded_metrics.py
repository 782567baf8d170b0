"""What /metrics says after passes, as reconciler/README.md lists the series: polls per stack, the commit
last applied (a failed run never moves it), Ready as 1/0 and the failures in a row."""

from __future__ import annotations

from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from reconciler.errors import Temporary

A, B = "a" * 40, "b" * 40


def samples(metrics) -> dict[tuple[str, tuple], float]:
    text = generate_latest(metrics.registry).decode()
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def test_every_pass_counts_a_poll_of_its_stack(scripted):
    stack = scripted()
    stack.reconciler.reconcile("poll")
    stack.reconciler.reconcile("poll")

    assert samples(stack.metrics)[("reconciler_polls_total", (("stack", "tiny"),))] == 2


def test_the_commit_info_keeps_the_applied_commit_when_a_later_one_fails(scripted):
    stack = scripted()
    stack.reconciler.reconcile("poll")
    stack.workspace.head = B
    stack.workspace.script("up", Temporary("EngineError", "the API server went away"))
    stack.reconciler.reconcile("poll")

    found = samples(stack.metrics)
    assert found[("reconciler_commit_info", (("commit", A), ("stack", "tiny")))] == 1
    assert ("reconciler_commit_info", (("commit", B), ("stack", "tiny"))) not in found
    assert found[("reconciler_stack_ready", (("stack", "tiny"),))] == 0
    assert found[("reconciler_stack_failures", (("stack", "tiny"),))] == 1


def test_recorded_conditions_carry_the_time_they_last_changed(scripted):
    stack = scripted()
    stack.reconciler.reconcile("poll")

    conditions = stack.store.stack_state("tiny").conditions
    assert [c.type for c in conditions] == ["Ready", "Reconciling", "Stalled"]
    assert all(isinstance(c.last_transition_at, float) and c.last_transition_at > 1_700_000_000 for c in conditions)
