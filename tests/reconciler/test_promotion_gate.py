"""The promotion gate's rules, with two (or three) stacks on one status store and scripted workspaces.

The upstream is reconciled for real against its scripted workspace, so the gate reads the position the
recorder wrote, as it does in the service; only git and the engine are scripted. The same chain runs on
the real engine in test_promotion_tiny_project.py.
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import pytest

from reconciler.engine.operations import EngineReport
from reconciler.errors import Temporary, Waiting
from reconciler.promotion import waves
from reconciler.status.model import ChangeCounts
from reconciler.status.store import StatusStore
from testsupport.scripted_stack import ScriptedStack

A, B, C = "a" * 40, "b" * 40, "c" * 40
HOUR = 3600.0


def backdate(stack: ScriptedStack, seconds: float) -> None:
    """As if everything the stack recorded happened `seconds` earlier: its apply, and its conditions' transitions."""
    state = stack.state()
    state.last_applied_at -= seconds
    for condition in state.conditions:
        condition.last_transition_at -= seconds
    stack.store.save_state(state)


@pytest.fixture
def chain(tiny_spec, tmp_path: Path):
    store = StatusStore(tmp_path / "status.sqlite")
    base = dataclasses.replace(tiny_spec, paths=(), deletion_guard=None, drift_interval=None, auto_remediate=False,
                               resync_interval=HOUR)

    def make(name: str, head: str = A, **changes) -> ScriptedStack:
        return ScriptedStack(dataclasses.replace(base, name=name, stack=name, **changes), store, head)

    yield make
    store.close()


def waits(done, *phrases: str) -> str:
    """The pass ended Waiting/PromotionPending (no checkout, no engine); returns its message."""
    run = done.outcome
    assert (run.result.value, run.reason) == ("failed", "PromotionPending"), run.error_message
    for phrase in phrases:
        assert phrase in run.error_message
    return run.error_message


def test_the_same_commit_applied_upstream_is_promoted_without_asking_git(chain):
    dev, prod = chain("dev"), chain("prod", promote_from="dev")
    dev.run()

    done = prod.run()

    assert done.outcome.result.value == "applied" and done.outcome.commit == A
    assert prod.workspace.names() == ["find_head", "check_out", "prepare", "up"]
    assert [name for name, _ in prod.reconciler.steps][2:4] == ["decide", "gate"]


def test_a_commit_the_upstream_holds_in_its_history_is_promoted(chain):
    dev, prod = chain("dev", head=B), chain("prod", head=A, promote_from="dev")  # prod on a release branch, behind main
    dev.run()
    prod.workspace.ancestry.add((A, B))

    done = prod.run()

    assert done.outcome.result.value == "applied" and done.outcome.commit == A
    assert prod.workspace.calls[1] == ("contains", (A, B))


def test_a_commit_the_upstream_does_not_hold_waits_for_it(chain):
    dev, prod = chain("dev", head=C), chain("prod", head=A, promote_from="dev")
    dev.run()

    done = prod.run()

    waits(done, "waiting for dev to apply aaaaaaaaaaaa", "it is at cccccccccccc, which does not contain it")
    assert prod.workspace.names() == ["find_head", "contains"], "no checkout, no engine"


def test_an_upstream_that_applied_nothing_yet_holds_the_stack_back_until_it_does(chain):
    dev, prod = chain("dev"), chain("prod", promote_from="dev")

    done = prod.run()

    waits(done, "waiting for dev to apply aaaaaaaaaaaa: it has applied nothing yet")
    assert prod.workspace.names() == ["find_head"]
    state = prod.state()
    assert (state.last_applied_commit, state.failures, state.retry_at) == (None, 0, None)
    assert prod.conditions() == {"Ready": (False, "PromotionPending"), "Reconciling": (True, "PromotionPending"),
                                 "Stalled": (False, "NotStalled")}
    assert "waiting for dev" in state.condition("Reconciling").message
    assert done.next_in == pytest.approx(HOUR, abs=5), "nothing to count down: the next poll (or the upstream's run) looks again"

    dev.run()
    assert prod.run().outcome.result.value == "applied", "the upstream's apply opens the gate at the next look"


def test_repeated_waiting_passes_are_one_run_with_attempts(chain):
    chain("dev")
    prod = chain("prod", promote_from="dev")

    for _ in range(3):
        prod.run()

    [run] = prod.store.runs("prod")
    assert (run["reason"], run["attempts"]) == ("PromotionPending", 3)


def test_the_soak_holds_the_stack_with_the_time_left_and_the_next_look_is_when_it_ends(chain):
    dev, prod = chain("dev"), chain("prod", promote_from="dev", soak=30.0)
    dev.run()

    done = prod.run()

    message = waits(done, "waiting for dev's soak of 30s", "it is at aaaaaaaaaaaa since", "left")
    assert message.endswith(("30s left", "29s left")), message
    assert 25 < done.next_in <= 30, "looked at again when the soak ends, not at the hourly poll"
    assert prod.state().retry_at == pytest.approx(time.time() + 30, abs=5)
    assert prod.run().outcome is None, "a poll before the soak ends runs nothing"

    backdate(dev, 31)
    done = prod.run(force=True)
    assert done.outcome.result.value == "applied" and done.outcome.commit == A


def test_a_newer_apply_upstream_starts_the_soak_again(chain):
    dev, prod = chain("dev"), chain("prod", promote_from="dev", soak=30.0)
    dev.run()
    backdate(dev, 31)
    dev.workspace.head = B
    dev.run()
    prod.workspace.head = A
    prod.workspace.ancestry.add((A, B))

    waits(prod.run(), "waiting for dev's soak", "it is at bbbbbbbbbbbb since")


def test_a_failed_upstream_blocks_even_a_commit_it_applied_before(chain):
    dev, prod = chain("dev"), chain("prod", head=A, promote_from="dev")
    dev.run()
    dev.workspace.head = B
    dev.workspace.script("up", Temporary("ProgramError", "ValueError: manifests/x.yaml is broken", bounded=True))
    assert dev.run().outcome.result.value == "failed"

    done = prod.run()

    waits(done, "waiting for dev: its last run failed (ProgramError)")
    assert prod.state().last_applied_commit is None


def test_an_upstream_whose_remote_was_unreachable_for_a_poll_does_not_block(chain):
    dev, prod = chain("dev"), chain("prod", promote_from="dev")
    dev.run()
    dev.workspace.script("find_head", Temporary("SourceUnreachable", "cannot reach the remote", delay=15))
    assert dev.run().outcome.reason == "SourceUnreachable"
    assert dev.run(force=True).outcome is None, "reachable again, nothing to do: the failure stays its last result"

    assert prod.run().outcome.result.value == "applied", "A stayed applied and Ready on dev all along"


def test_an_upstream_whose_run_was_cut_short_blocks_until_it_recovers(chain):
    dev, prod = chain("dev"), chain("prod", promote_from="dev")
    dev.run()
    dev.workspace.head = B
    dev.workspace.script("up", Temporary("Interrupted", "the CLI was killed by SIGKILL"))
    dev.run()

    waits(prod.run(), "waiting for dev: its last run did not finish (it recovers at its next pass)")


def test_a_stalled_upstream_blocks(chain):
    dev, prod = chain("dev", program_retries=0), chain("prod", promote_from="dev")
    dev.workspace.script("up", Temporary("ProgramError", "broken", bounded=True))
    dev.run()
    assert dev.conditions()["Stalled"] == (True, "ProgramError")

    waits(prod.run(), "waiting for dev: it is stalled (ProgramError)")


def test_a_drifted_upstream_blocks_and_its_remediation_starts_the_soak_again(chain):
    dev, prod = chain("dev", drift_interval=0.0), chain("prod", promote_from="dev", soak=30.0)
    dev.run()
    backdate(dev, 31)
    drifted = EngineReport(ChangeCounts(update=1), [{"urn": "urn:pulumi:dev::tiny::tiny:index:Thing::a", "op": "update"}])
    dev.workspace.script("drift", drifted)
    assert dev.run().outcome.result.value == "drifted"

    waits(prod.run(), "waiting for dev: 1 resource(s) drifted there")

    dev.respec(auto_remediate=True)
    dev.workspace.script("drift", drifted)
    assert dev.run().outcome.result.value == "remediated"
    waits(prod.run(force=True), "waiting for dev's soak of 30s")


def test_a_drift_repaired_by_hand_counts_the_soak_from_when_the_upstream_was_ready_again(chain):
    dev, prod = chain("dev", drift_interval=0.0), chain("prod", promote_from="dev", soak=30.0)
    dev.run()
    dev.workspace.script("drift", EngineReport(ChangeCounts(update=1), [{"urn": "urn:a", "op": "update"}]))
    dev.run()
    backdate(dev, 100)  # applied (and drifted) long ago
    assert dev.run().outcome.result.value == "skipped", "the next drift check finds nothing: repaired by hand"

    waits(prod.run(), "waiting for dev's soak")


def test_require_healthy_waits_while_the_upstream_is_not_ready(chain):
    dev = chain("dev", head=B)
    relaxed, strict = chain("relaxed", promote_from="dev"), chain("strict", promote_from="dev", require_healthy=True)
    dev.workspace.head = A
    dev.run()
    dev.workspace.head = B  # dev moves on, and finds its stack locked by a person's `pulumi up`
    dev.workspace.script("up", Waiting("LockHeld", "the stack is locked by ops@host (pid 7)", delay=30))
    assert dev.run().outcome.reason == "LockHeld"

    assert relaxed.run().outcome.result.value == "applied", "a waiting upstream is no failed one: A ran there"
    waits(strict.run(), "waiting for dev: it is not Ready (LockHeld) and require_healthy is set")

    dev.workspace.head = A
    dev.run(force=True)
    assert strict.run().outcome.result.value == "applied"


def test_a_drift_check_of_the_applied_commit_is_never_gated(chain):
    dev, prod = chain("dev"), chain("prod", promote_from="dev", drift_interval=0.0)
    dev.run()
    prod.run()
    dev.workspace.script("up", Temporary("ProgramError", "broken", bounded=True))
    dev.workspace.head = B
    dev.run()

    done = prod.run()

    assert done.outcome.kind.value == "drift" and done.outcome.result.value == "skipped"


def test_in_a_chain_each_stack_waits_for_the_one_before(chain):
    dev = chain("dev")
    staging = chain("staging", promote_from="dev")
    prod = chain("prod", promote_from="staging")

    waits(staging.run(), "waiting for dev to apply")
    waits(prod.run(), "waiting for staging to apply aaaaaaaaaaaa: it has applied nothing yet")
    dev.run()
    waits(prod.run(), "waiting for staging to apply")
    assert staging.run().outcome.result.value == "applied"
    assert prod.run().outcome.result.value == "applied"


def test_a_fan_out_promotes_every_downstream_from_one_upstream(chain):
    dev = chain("dev")
    downstreams = [chain(name, promote_from="dev") for name in ("eu", "us")]
    dev.run()

    assert [stack.run().outcome.result.value for stack in downstreams] == ["applied", "applied"]


def test_a_new_head_after_a_failed_older_one_starts_its_failures_afresh(chain):
    dev, prod = chain("dev"), chain("prod", promote_from="dev", program_retries=1)
    dev.run()
    prod.workspace.script("up", Temporary("ProgramError", "broken", bounded=True))
    prod.run()
    assert prod.state().failures == 1
    dev.workspace.head = prod.workspace.head = B

    waits(prod.run(force=True), "waiting for dev to apply bbbbbbbbbbbb")
    assert prod.state().failures == 0
    dev.run()
    prod.workspace.script("up", Temporary("ProgramError", "broken again", bounded=True))
    prod.run()
    assert prod.conditions()["Stalled"] == (False, "NotStalled"), "B's first failure, not the second of the stack"


def test_once_runs_upstreams_first_whatever_the_order_of_the_config(chain):
    specs = [chain("prod", promote_from="staging").spec, chain("eu", promote_from="dev").spec,
             chain("staging", promote_from="dev").spec, chain("dev").spec, chain("tools").spec]

    assert waves(specs) == [["dev", "tools"], ["eu", "staging"], ["prod"]]
    assert waves([spec for spec in specs if spec.name == "prod"]) == [["prod"]], "`once --stack prod` runs prod alone"
