"""A drift check that finds changes records them and says how to resolve them; one that finds none is skipped;
remediation counts what the refresh found and what `up` put back (reconciler/README.md, "A pass", step 8)."""

from __future__ import annotations

import logging

from reconciler.engine.operations import EngineReport
from reconciler.status.model import ChangeCounts

A = "a" * 40
FOUND = EngineReport(ChangeCounts(update=1, delete=1, same=3), [
    {"urn": "urn:pulumi:dev::tiny::kubernetes:core/v1:ConfigMap::web", "op": "update"},
    {"urn": "urn:pulumi:dev::tiny::kubernetes:core/v1:Secret::db", "op": "delete"},
])


def drift_checked(scripted, **changes):
    stack = scripted(drift_interval=0.0, **changes)
    stack.reconciler.reconcile("poll")  # applied
    return stack


def test_a_drift_names_each_resource_and_the_two_ways_to_resolve_it(scripted, caplog):
    stack = drift_checked(scripted)
    stack.workspace.script("drift", FOUND)
    with caplog.at_level(logging.WARNING, logger="reconciler"):
        run = stack.reconciler.reconcile("poll").outcome

    assert (run.result.value, run.reason, run.changes) == ("drifted", "Drifted", FOUND.changes)
    assert run.error_message.startswith("2 resource(s) differ from the stack's state;")
    assert "turn on auto_remediate" in run.error_message and "push a commit" in run.error_message
    assert run.error_message.endswith("\n  update urn:pulumi:dev::tiny::kubernetes:core/v1:ConfigMap::web"
                                      "\n  delete urn:pulumi:dev::tiny::kubernetes:core/v1:Secret::db")
    assert [(r.getMessage(), r.stack, r.commit) for r in caplog.records if "drifted" in r.getMessage()][0] == (
        "2 resource(s) drifted", "tiny", A)


def test_a_drift_check_that_finds_nothing_is_skipped_with_what_it_looked_at(scripted):
    stack = drift_checked(scripted)
    stack.workspace.script("drift", EngineReport(ChangeCounts(same=5)))

    run = stack.reconciler.reconcile("poll").outcome

    assert (run.result.value, run.changes) == ("skipped", ChangeCounts(same=5))


def test_a_remediation_counts_the_drift_then_the_update_that_put_it_back(scripted):
    stack = drift_checked(scripted, auto_remediate=True)
    stack.workspace.script("drift", FOUND)
    stack.workspace.script("up", EngineReport(ChangeCounts(update=1, create=1, same=4)))

    run = stack.reconciler.reconcile("poll").outcome

    assert run.result.value == "remediated" and run.resources == FOUND.resources
    assert run.changes == ChangeCounts(create=1, update=2, delete=1, same=4)
