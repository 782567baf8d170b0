"""Benchmark: what the gates across replicas cost (coordination/positions.py), on the local API server.

Two replicas' StackLeases (lease_duration 10s, renew_every 2s, their round loops running) share dev and prod;
the one holding dev publishes dev's position. Measured: a publish (one Lease write), a gate's read of the
position on another replica (one Lease read), and the time from a publish until the other replica's round sees
it and triggers dev's downstreams (bounded by renew_every).

Run: source tools/env.sh && eval "$(GITOPS_STATE_DIR=$PWD/.state .venv/bin/python -m localenv env)" &&
     .venv/bin/python bench/published_positions.py [--samples N]
"""

from __future__ import annotations

import argparse
import statistics
import threading
import time
from pathlib import Path

from reconciler_common import local_environment, percentile

from reconciler.coordination.lease_api import LeaseApi
from reconciler.coordination.positions import encode
from reconciler.coordination.stack_leases import StackLeases
from reconciler.settings import CoordinationSettings
from reconciler.status.model import StackState
from testsupport.lease_namespaces import lease_namespace


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=20)
    args = parser.parse_args()
    kubeconfig = Path(local_environment()["KUBECONFIG"])
    with lease_namespace(kubeconfig) as namespace:
        seen = threading.Event()

        def replica(replica_id: str, **callbacks) -> StackLeases:
            settings = CoordinationSettings(kubeconfig, namespace, 10.0, 2.0, replica_id)
            return StackLeases(settings, ["dev", "prod"], LeaseApi(settings, "bench.yaml"), **callbacks)

        a, b = replica("a"), replica("b", on_published=lambda names: seen.set() if "dev" in names else None)
        for _ in range(3):  # "a" reaches for dev first, "b" for prod (rendezvous hashing)
            a.sync()
            b.sync()
        assert (a.held(), b.held()) == (["dev"], ["prod"]), (a.held(), b.held())
        a.start()
        b.start()
        try:
            writes, reads, seen_after = [], [], []
            for sample in range(args.samples):
                text = encode(StackState("dev", last_applied_commit=f"{sample:040x}"), "a")
                seen.clear()
                started = time.monotonic()
                a.publish("dev", text)
                published = time.monotonic()
                writes.append(published - started)
                assert seen.wait(30), "the other replica's round never saw the new position"
                seen_after.append(time.monotonic() - published)
                started = time.monotonic()
                position = b.position("dev")
                reads.append(time.monotonic() - started)
                assert position.commit == f"{sample:040x}" and not position.unknown, position
        finally:
            a.close()
            b.close()
    print(f"publish (a Lease write): {_ms(writes)}")
    print(f"a gate's read on another replica (a Lease read): {_ms(reads)}")
    print(f"from a publish until the other replica's round triggers the downstreams: {_ms(seen_after)}")
    return 0


def _ms(values: list[float]) -> str:
    return (f"n={len(values)} p50={percentile(values, 0.5) * 1000:.1f}ms p95={percentile(values, 0.95) * 1000:.1f}ms "
            f"max={max(values) * 1000:.1f}ms mean={statistics.fmean(values) * 1000:.1f}ms")


if __name__ == "__main__":
    raise SystemExit(main())
