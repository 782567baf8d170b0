"""Benchmark: how long the other replicas take to pick up a killed replica's stacks, and how the stacks spread.

Three `python -m reconciler run` replicas share twelve provider-free stacks through Leases
(lease_duration 10s, renew_every 2s) and one file backend; once the stacks are spread and applied, a slow
commit is pushed and the holder of a stack in the middle of its update is killed with SIGKILL (with its
pulumi processes). The scenario is the one tests/reconciler/test_replicas.py checks for correctness.

Run: source tools/env.sh && eval "$(GITOPS_STATE_DIR=$PWD/.state .venv/bin/python -m localenv env)" &&
     .venv/bin/python bench/replica_takeover.py [--runs N]
"""

from __future__ import annotations

import argparse
import collections
import tempfile
from pathlib import Path

from reconciler_common import engine_environment, local_environment, summary

from testsupport.lease_namespaces import lease_namespace
from testsupport.reconciler_testing import TINY_PROJECT, GitRemote
from testsupport.replica_fleet import Fleet, kill_one_mid_update

LEASE_DURATION, RENEW_EVERY = "10s", "2s"


def one_run(scratch: Path, kubeconfig: Path) -> None:
    remote = GitRemote(scratch / "remote")
    remote.commit("tiny project", TINY_PROJECT)
    env = engine_environment(TINY_PASSPHRASE="bench-passphrase")
    with lease_namespace(kubeconfig) as namespace:
        fleet = Fleet(scratch, remote, env, kubeconfig, namespace, lease_duration=LEASE_DURATION, renew_every=RENEW_EVERY)
        try:
            takeover = kill_one_mid_update(fleet)
            runs = fleet.runs()
        finally:
            fleet.stop()
    applies = collections.Counter(run.replica for run in runs if run.kind == "apply" and run.result == "applied")
    print(f"killed {takeover.victim} during the update of {takeover.interrupted}")
    print(f"  stacks held before the kill: {takeover.spread_before}; after: {takeover.spread_after}")
    print(f"  takeover of its {len(takeover.taken_after)} stacks after the kill: {summary(list(takeover.taken_after.values()))}")
    print(f"  the interrupted stack taken after {takeover.taken_after[takeover.interrupted]:.1f}s; "
          f"every stack at the new commit {takeover.converged_after:.1f}s after the kill")
    print(f"  applies per replica over the run: {dict(sorted(applies.items()))}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1)
    args = parser.parse_args()
    kubeconfig = Path(local_environment()["KUBECONFIG"])
    print(f"3 replicas, 12 stacks, lease_duration {LEASE_DURATION}, renew_every {RENEW_EVERY}")
    for _ in range(args.runs):
        with tempfile.TemporaryDirectory(prefix="reconciler-bench-replicas-") as scratch:
            one_run(Path(scratch), kubeconfig)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
