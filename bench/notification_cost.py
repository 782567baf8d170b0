"""What a recorded run costs the recorder's thread once notifications and Kubernetes Events are configured.

Two webhook sinks (one that never answers) and a stack with Events on a cluster that cannot be reached:
200 runs, each a different failure (so none is held back as a repeat), are handed to the listeners as
the recorder hands them over. Timed: the calls, from the first to the last return (the deliveries go on
in their threads, and the HTTP servers run in this process too: the wall time includes waiting for the
GIL they hold), and the CPU time of the calling thread. Goal: under 1 ms of CPU per run, against runs of seconds.

Run: .venv/bin/python bench/notification_cost.py
"""

from __future__ import annotations

import statistics
import tempfile
import threading
import time
from pathlib import Path

from reconciler.notify.listeners import notification_listeners
from reconciler.process_setup import redactor_for
from reconciler.settings import load_config
from reconciler.status.model import ChangeCounts, Result, RunKind, RunOutcome, StackState
from testsupport.reconciler_testing import GitRemote, free_port, tiny_stack, write_config
from testsupport.recording_server import recording_server

RUNS = 200
GOAL_MS = 1.0


def main() -> int:
    answer = threading.Event()
    with tempfile.TemporaryDirectory(prefix="notification-bench-") as scratch, recording_server() as fast, \
            recording_server() as hanging:
        root = Path(scratch)
        (root / "hook.key").write_text("bench-hmac-key")
        hanging.before_answer = answer.wait
        unreachable = root / "unreachable.kubeconfig"
        unreachable.write_text(f"apiVersion: v1\nkind: Config\nclusters: [{{name: c, cluster: {{server: 'https://127.0.0.1:{free_port()}'}}}}]\n"
                               "contexts: [{name: c, context: {cluster: c, user: u}}]\ncurrent-context: c\nusers: [{name: u, user: {token: t}}]\n")
        sinks = [{"name": name, "type": "webhook", "url": server.url, "secret": {"file": str(root / "hook.key")},
                  "rate_limit": {"messages": 10_000, "per": "1m"}} for name, server in (("fast", fast), ("hanging", hanging))]
        stack = tiny_stack(GitRemote(root), root / "backend", secrets_passphrase=None, events={"kubeconfig": str(unreachable)})
        config = load_config(write_config(root / "reconciler.yaml", [stack], notifications={"sinks": sinks}))
        listeners = notification_listeners(config, redactor_for(config))
        spec = config.stacks[0]
        durations, cpu = [], []
        for number in range(RUNS):
            run = RunOutcome(spec.name, f"{number:040x}", "poll", RunKind.APPLY, Result.FAILED, 0.0, 12.5,
                             changes=ChangeCounts(update=1), reason="ProgramError", error_message=f"failure {number}\n" * 20)
            started, started_cpu = time.perf_counter(), time.thread_time()
            for listener in listeners:
                listener.run_recorded(spec, run, StackState(spec.name))
            durations.append((time.perf_counter() - started) * 1000)
            cpu.append((time.thread_time() - started_cpu) * 1000)
        for listener in listeners:
            listener.flush(30)
        answer.set()
        print(f"{RUNS} runs, 2 sinks (one never answers) + Events (unreachable cluster), per run: CPU median "
              f"{statistics.median(cpu):.3f} ms, p95 {sorted(cpu)[int(RUNS * 0.95)]:.3f} ms (goal < {GOAL_MS} ms); wall median "
              f"{statistics.median(durations):.3f} ms, p95 {sorted(durations)[int(RUNS * 0.95)]:.3f} ms; "
              f"the answering sink received {len(fast.received)}")
        return 0 if statistics.median(cpu) < GOAL_MS else 1


if __name__ == "__main__":
    raise SystemExit(main())
