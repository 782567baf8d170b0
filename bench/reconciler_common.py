"""What the reconciler benchmarks share: the test suite's real Git remotes, projects and service runner, and statistics.

Benchmarks are not tests: they print figures for the README. They need the
pinned tools (`source tools/env.sh`); the cluster ones also the local
environment (`make cluster-up`, then `eval "$(.venv/bin/python -m localenv env)"`).
"""

from __future__ import annotations

import json
import os
import statistics
import urllib.request
from pathlib import Path
from typing import Any

from testsupport.reconciler_testing import tools_environment

PROJECT_DIR = Path(__file__).resolve().parent.parent

LOCAL_ENV_KEYS = ("KUBECONFIG", "DOCKER_HOST", "GITOPS_REGISTRY", "GITOPS_STATE_DIR")
# docker-build finds the local environment's buildkitd through these (`localenv env` prints them).
BUILDER_KEYS = ("BUILDX_CONFIG", "BUILDX_BUILDER")


def engine_environment(**extra: str) -> dict[str, str]:
    env = tools_environment()
    for key in (*LOCAL_ENV_KEYS, *BUILDER_KEYS):
        if key in os.environ:
            env[key] = os.environ[key]
    env["PYTHONPATH"] = str(PROJECT_DIR)
    env.update(extra)
    return env


def local_environment() -> dict[str, str]:
    missing = [key for key in LOCAL_ENV_KEYS if key not in os.environ]
    if missing:
        raise SystemExit(
            f"the local environment is not in this shell ({', '.join(missing)} unset): run `make cluster-up`, then "
            'eval "$(GITOPS_STATE_DIR=$PWD/.state .venv/bin/python -m localenv env)" and export GITOPS_STATE_DIR=$PWD/.state'
        )
    return {key: os.environ[key] for key in (*LOCAL_ENV_KEYS, *BUILDER_KEYS) if key in os.environ}


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))
    return ordered[index]


def summary(values: list[float]) -> str:
    return (f"n={len(values)} p50={percentile(values, 0.5):.2f}s p95={percentile(values, 0.95):.2f}s "
            f"min={min(values):.2f}s max={max(values):.2f}s mean={statistics.fmean(values):.2f}s")


def metric(port: int, name: str, labels: dict[str, str]) -> float:
    """One sample from the service's /metrics."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
        text = response.read().decode()
    wanted = ",".join(f'{key}="{value}"' for key, value in sorted(labels.items()))
    for line in text.splitlines():
        if line.startswith(f"{name}{{{wanted}}} "):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def status(port: int, stack: str) -> dict[str, Any]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/status", timeout=10) as response:
        return next(entry for entry in json.loads(response.read())["stacks"] if entry["stack"] == stack)


def process_cpu_seconds(pid: int) -> float:
    """User+system CPU of the process and of its children it has waited for (git, pulumi)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return sum(int(value) for value in fields[11:15]) / ticks


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for pid {pid}")


class CliTwin:
    """The same service in its own repository and namespace, deployed the way a person does: `pulumi up` in a clone."""

    def __init__(self, root: Path, name: str, local_env: dict[str, str], env: dict[str, str]) -> None:
        import subprocess

        from testsupport.reconciler_cluster import ClusterRepo

        self.repo = ClusterRepo(root, name, local_env)
        self.clone = self.repo.remote.clone
        self.env = {**env, "PULUMI_BACKEND_URL": f"file://{self.repo.backend}", "PULUMI_CONFIG_PASSPHRASE": "bench-passphrase"}
        self.repo.backend.mkdir(parents=True, exist_ok=True)
        (self.clone / ".venv").symlink_to(PROJECT_DIR / ".venv")
        # A symlink is not a folder to Git, so `.venv/` in .gitignore does not cover it.
        with open(self.clone / ".git" / "info" / "exclude", "a") as exclude:
            exclude.write("/.venv\n")
        self._subprocess = subprocess
        self.pulumi("stack", "init", "local")
        self.pulumi("config", "set", "--stack", "local", "pulumi-gitops:kubeconfig", local_env["KUBECONFIG"])

    def pulumi(self, *args: str) -> float:
        """Runs pulumi in the clone; returns its wall time."""
        import time

        started = time.monotonic()
        result = self._subprocess.run(["pulumi", "--non-interactive", "--color", "never", *args], cwd=self.clone,
                                      env=self.env, capture_output=True, text=True, timeout=900)
        if result.returncode != 0:
            raise RuntimeError(f"pulumi {' '.join(args)} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
        return time.monotonic() - started

    def up(self, *extra: str) -> float:
        return self.pulumi("up", "--yes", "--stack", "local", *extra)
