"""Benchmark 1: commit -> applied latency of the reconciler, with a webhook and with 5 s polling, next to `pulumi up`.

Each sample is one commit that changes a ConfigMap's data in a service
repository built from this project's program, pushed to a bare remote; the
latency runs from the push (and, with webhooks, the signed POST) to the
service's status showing the commit applied. The engine's own time for the
same change is `pulumi up --yes` (preview + update, as a person runs it) and
`pulumi up --yes --skip-preview`, in a twin repository. Goal: webhook
p50 <= engine `up` + 1 s.

Run (local environment up and in the shell, see reconciler_common.py):
    .venv/bin/python bench/reconciler_latency.py [COMMITS]
"""

from __future__ import annotations

import hashlib
import hmac
import json
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from reconciler_common import CliTwin, engine_environment, local_environment, percentile, status, summary

from testsupport.reconciler_cluster import PASSPHRASE_ENV, REGISTRY_PASSWORD_ENV, ClusterRepo, manifests
from testsupport.reconciler_testing import ServiceProcess, free_port, write_config

SECRET = "bench-webhook-secret"


def webhook(port: int, bare: Path, sha: str) -> None:
    # Like GitHub's, each push's body names its commit: the service refuses a body it has seen as a replay.
    body = json.dumps({"ref": "refs/heads/main", "after": sha, "repository": {"clone_url": str(bare)}}).encode()
    signature = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    request = urllib.request.Request(f"http://127.0.0.1:{port}/hooks/github", data=body, method="POST",
                                     headers={"X-GitHub-Event": "push", "X-Hub-Signature-256": signature})
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 202


def measure(repo: ClusterRepo, port: int, commits: int, label: str, hook: bool) -> tuple[list[float], list[float]]:
    latencies, durations = [], []
    for n in range(commits):
        sha = repo.remote.commit(f"{label} change {n}", manifests(repo.namespace, greeting=f"{label}-{n}"))
        started = time.monotonic()
        if hook:
            webhook(port, repo.remote.bare, sha)
        while status(port, repo.name)["last_applied_commit"] != sha:
            time.sleep(0.05)
        latencies.append(time.monotonic() - started)
        durations.append(status(port, repo.name)["last_run"]["duration_s"])
    return latencies, durations


def main(commits: int) -> int:
    local_env = local_environment()
    env = engine_environment(**{PASSPHRASE_ENV: "bench-passphrase", REGISTRY_PASSWORD_ENV: "unused", "BENCH_WEBHOOK_SECRET": SECRET})
    with tempfile.TemporaryDirectory(prefix="reconciler-bench-latency-") as scratch:
        root = Path(scratch)
        repo = ClusterRepo(root / "reconciled", "rec-bench-latency", local_env)
        twin = CliTwin(root / "twin", "rec-bench-twin", local_env, env)
        try:
            results = {}
            for label, resync, hook in (("webhook", "1h", True), ("poll-5s", "5s", False)):
                port = free_port()
                config = write_config(root / f"{label}.yaml", [repo.stack_entry(resync_interval=resync)],
                                      state_dir=str(root / "state"), listen=f"127.0.0.1:{port}", log_level="WARNING",
                                      webhook={"secret": {"env": "BENCH_WEBHOOK_SECRET"}})
                service = ServiceProcess(config, env, root / f"{label}.log", port)
                try:
                    service.wait_until(lambda: status(port, repo.name)["last_applied_commit"] == repo.remote.head(), 900, "the first apply")
                    results[label] = measure(repo, port, commits, label, hook)
                finally:
                    service.stop()
            twin.up()
            engine = {"up": [], "up --skip-preview": []}
            for n in range(commits):
                for mode, extra in (("up", ()), ("up --skip-preview", ("--skip-preview",))):
                    twin.repo.remote.commit(f"{mode} {n}", manifests(twin.repo.namespace, greeting=f"twin-{mode}-{n}"), push=False)
                    engine[mode].append(twin.up(*extra))
        finally:
            repo.delete_namespace()
            twin.repo.delete_namespace()
    for label, (latencies, durations) in results.items():
        print(f"reconciler, {label:8}: commit->applied {summary(latencies)}; of which run {summary(durations)}")
    for mode, times in engine.items():
        print(f"engine `pulumi {mode}` (same change): {summary(times)}")
    goal = percentile(engine["up"], 0.5) + 1
    webhook_p50 = percentile(results["webhook"][0], 0.5)
    print(f"goal: webhook p50 {webhook_p50:.2f}s <= engine `pulumi up` p50 + 1s = {goal:.2f}s: {'met' if webhook_p50 <= goal else 'NOT met'}")
    return 0 if webhook_p50 <= goal else 1


if __name__ == "__main__":
    raise SystemExit(main(int(sys.argv[1]) if len(sys.argv) > 1 else 10))
