"""Three replicas (real processes) share twelve stacks through Leases on the local API server; one is killed
with SIGKILL in the middle of an update. Every stack converges, and no stack was ever run by two replicas
at once, by the replicas' own run records and by the shared backend's update history.

The takeover time and the load spread are measured by bench/replica_takeover.py (the same scenario).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from testsupport.lease_namespaces import lease_namespace
from testsupport.reconciler_testing import TINY_PROJECT
from testsupport.replica_fleet import Fleet, kill_one_mid_update, overlapping

pytestmark = pytest.mark.e2e


@pytest.fixture
def fleet(tmp_path, remote, engine_env, local_env):
    remote.commit("tiny project", TINY_PROJECT)
    kubeconfig = Path(local_env["KUBECONFIG"])
    with lease_namespace(kubeconfig) as namespace:
        fleet = Fleet(tmp_path, remote, engine_env, kubeconfig, namespace)
        try:
            yield fleet
        finally:
            fleet.stop()


def test_a_killed_replicas_stacks_are_taken_over_and_no_stack_ever_runs_on_two_replicas(fleet):
    takeover = kill_one_mid_update(fleet)

    assert sorted(takeover.spread_before.values()) == [4, 4, 4]
    assert sorted(takeover.spread_after.values()) == [6, 6] and takeover.victim not in takeover.spread_after
    assert takeover.interrupted in takeover.taken_after
    runs = fleet.runs()
    cut_short = [run for run in runs if run.stack == takeover.interrupted and run.replica == takeover.victim and run.result is None]
    assert cut_short, "the victim's run of the interrupted stack was open when it died"
    finished_by = {run.replica for run in runs if run.stack == takeover.interrupted and run.result == "applied"
                   and run.started_at > takeover.killed_at}
    assert finished_by and takeover.victim not in finished_by
    for name in fleet.stacks:
        passes = [(run.started_at, run.finished_at, run.replica) for run in runs if run.stack == name]
        assert not overlapping(passes), f"{name}: two passes overlapped"
        history = fleet.history(name)
        updates = [(update["startTime"], update.get("endTime") or update["startTime"], update["kind"]) for update in history]
        assert not overlapping(updates), f"{name}: two updates overlapped in the backend's history"
        assert any(update["result"] == "succeeded" and update["kind"] == "update" for update in history)
    assert_status_and_metrics_show_what_each_survivor_holds(fleet)


def assert_status_and_metrics_show_what_each_survivor_holds(fleet: Fleet) -> None:
    holding = fleet.holders()
    for replica in fleet.alive():
        service = fleet.services[replica]
        status, body = service.get("/status")
        coordination = json.loads(body)["coordination"]
        mine = sorted(name for name, holder in holding.items() if holder == replica)
        assert status == 200 and coordination["replica"] == replica and coordination["held"] == mine
        assert coordination["live_replicas"] == fleet.alive() and coordination["share"] == 6
        metrics = service.get("/metrics")[1].decode()
        held = {line.split('"')[1] for line in metrics.splitlines()
                if line.startswith("reconciler_stack_lease_held{") and line.endswith(" 1.0")}
        assert held == set(mine) and "reconciler_live_replicas 2.0" in metrics

