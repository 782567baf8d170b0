"""Benchmark 3: an unchanged head costs one cheap poll - CPU time per poll and `up` runs over 100 polls.

The service (`python -m reconciler run`) keeps one stack of a provider-free
project, polling every 0.2 s; after its first apply, 100 polls of the unchanged
head are timed from the service's own CPU counters (it and the git processes
it ran). Goal: 0 runs, <= 50 ms CPU per poll.

Run: source tools/env.sh && .venv/bin/python bench/reconciler_poll_cost.py
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from reconciler_common import engine_environment, metric, process_cpu_seconds, status

from testsupport.reconciler_testing import TINY_PROJECT, GitRemote, ServiceProcess, free_port, tiny_stack, write_config

POLLS = 100
GOAL_CPU_MS = 50.0


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="reconciler-bench-poll-") as scratch:
        root = Path(scratch)
        remote = GitRemote(root)
        remote.commit("tiny project", TINY_PROJECT)
        port = free_port()
        config = write_config(root / "reconciler.yaml", [tiny_stack(remote, root / "backend", resync_interval="0.2s")],
                              listen=f"127.0.0.1:{port}", log_level="WARNING")
        env = engine_environment(TINY_PASSPHRASE="bench-passphrase")
        service = ServiceProcess(config, env, root / "service.log", port)
        try:
            service.wait_until(lambda: status(port, "tiny")["last_applied_commit"] == remote.head(), 120, "the first apply")
            time.sleep(1)
            runs_before = sum(metric(port, "reconciler_runs_total", {"stack": "tiny", "result": r}) for r in ("applied", "failed", "skipped"))
            polls_before = metric(port, "reconciler_polls_total", {"stack": "tiny"})
            cpu_before = process_cpu_seconds(service.process.pid)
            started = time.monotonic()
            service.wait_until(lambda: metric(port, "reconciler_polls_total", {"stack": "tiny"}) >= polls_before + POLLS,
                               120, f"{POLLS} polls")
            cpu = process_cpu_seconds(service.process.pid) - cpu_before
            polls = metric(port, "reconciler_polls_total", {"stack": "tiny"}) - polls_before
            runs = sum(metric(port, "reconciler_runs_total", {"stack": "tiny", "result": r}) for r in ("applied", "failed", "skipped")) - runs_before
            elapsed = time.monotonic() - started
        finally:
            service.stop()
    per_poll_ms = cpu / polls * 1000
    print(f"unchanged head: {int(polls)} polls in {elapsed:.1f}s, {int(runs)} runs, "
          f"CPU {per_poll_ms:.1f} ms per poll (service + git) - goal 0 runs, <= {GOAL_CPU_MS:.0f} ms")
    return 0 if runs == 0 and per_poll_ms <= GOAL_CPU_MS else 1


if __name__ == "__main__":
    raise SystemExit(main())
