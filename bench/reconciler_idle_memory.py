"""Benchmark 4: idle memory of `python -m reconciler run` with 10 stacks configured.

Ten stacks of a provider-free project (one remote, ten Pulumi stacks) are
applied once; then the service idles - polling each head every 5 s - for 30 s
while its resident memory is sampled. Goal: <= 100 MB RSS.

Run: source tools/env.sh && .venv/bin/python bench/reconciler_idle_memory.py
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from reconciler_common import engine_environment, rss_mb, status

from testsupport.reconciler_testing import TINY_PROJECT, GitRemote, ServiceProcess, free_port, tiny_stack, write_config

STACKS = 10
IDLE_SECONDS = 30
GOAL_MB = 100.0


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="reconciler-bench-memory-") as scratch:
        root = Path(scratch)
        remote = GitRemote(root)
        remote.commit("tiny project", TINY_PROJECT)
        port = free_port()
        stacks = [tiny_stack(remote, root / "backend", name=f"tiny-{n}", stack=f"s{n}", resync_interval="5s") for n in range(STACKS)]
        config = write_config(root / "reconciler.yaml", stacks, listen=f"127.0.0.1:{port}", log_level="WARNING", workers=2)
        service = ServiceProcess(config, engine_environment(TINY_PASSPHRASE="bench-passphrase"), root / "service.log", port)
        try:
            head = remote.head()
            started = time.monotonic()
            service.wait_until(lambda: all(status(port, f"tiny-{n}")["last_applied_commit"] == head for n in range(STACKS)),
                               600, "every stack's first apply")
            applied_in = time.monotonic() - started
            samples = []
            idle_until = time.monotonic() + IDLE_SECONDS
            while time.monotonic() < idle_until:
                samples.append(rss_mb(service.process.pid))
                time.sleep(0.5)
        finally:
            service.stop()
    print(f"{STACKS} stacks applied in {applied_in:.0f}s; idle RSS over {IDLE_SECONDS}s: "
          f"max {max(samples):.1f} MB, last {samples[-1]:.1f} MB - goal <= {GOAL_MB:.0f} MB")
    return 0 if max(samples) <= GOAL_MB else 1


if __name__ == "__main__":
    raise SystemExit(main())
