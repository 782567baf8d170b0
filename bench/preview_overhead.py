"""Benchmark: a pull request preview by the reconciler vs `pulumi preview` of the same stack, side by side.

One service repository with this project's program and about 230 resources is
deployed once with `python -m reconciler once`. Each round then times, one
after the other:
  - `python -m reconciler preview --ref main --format json` (a whole process:
    config, fetch into the preview cache, a throwaway clone, the sandbox,
    select, config, `preview --diff`, the summary);
  - the same preview as the service runs it (run_preview in this process: no
    interpreter start, no imports, the CLI's version checked once);
  - `pulumi preview --diff` in a plain clone of the same commit, against the
    same backend, stack, passphrase and config values.
Medians of the rounds; goal: reconciler <= pulumi preview + 1 s.

Run (local environment up and in the shell, see reconciler_common.py):
    .venv/bin/python bench/preview_overhead.py [ROUNDS]
"""

from __future__ import annotations

import json
import logging
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from reconciler_common import PROJECT_DIR, engine_environment, local_environment, summary

from testsupport.reconciler_cluster import PASSPHRASE_ENV, REGISTRY_PASSWORD_ENV, ClusterRepo, manifests
from testsupport.reconciler_testing import git, write_config

GOAL_EXTRA_S = 1.0
EXTRA_CONFIG_MAPS = 220
PASSPHRASE = "bench-passphrase"
REGISTRY_PASSWORD = "bench-registry-password"


def timed(argv: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, str]:
    started = time.monotonic()
    result = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=900)
    elapsed = time.monotonic() - started
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(argv[:4])} failed:\n{result.stdout[-2000:]}\n{result.stderr[-3000:]}")
    return elapsed, result.stdout


def direct_clone(root: Path, repo: ClusterRepo, env: dict[str, str], local_env: dict[str, str]) -> tuple[Path, dict[str, str]]:
    """A plain clone of main set up as a person would: the stack selected, the same two config values set."""
    clone = root / "direct"
    git("clone", "--quiet", str(repo.remote.bare), str(clone), cwd=root)
    (clone / ".venv").symlink_to(PROJECT_DIR / ".venv")
    direct_env = {**env, "PULUMI_BACKEND_URL": f"file://{repo.backend}", "PULUMI_CONFIG_PASSPHRASE": PASSPHRASE}
    for args in (["stack", "select", "local"],
                 ["config", "set", "pulumi-gitops:kubeconfig", local_env["KUBECONFIG"]],
                 ["config", "set", "--secret", "pulumi-gitops:registryPassword", REGISTRY_PASSWORD]):
        timed(["pulumi", "--non-interactive", *args], clone, direct_env)
    return clone, direct_env


def service_preview(config_path: Path, stack: str, env: dict[str, str]):
    """A function timing one preview of main as the service's pool runs it."""
    os.environ.update(env)
    from reconciler.preview.run import run_preview
    from reconciler.preview.workspace import PreviewWorkspace
    from reconciler.process_setup import pulumi_command, redactor_for
    from reconciler.settings import load_config

    logging.getLogger("reconciler").setLevel(logging.ERROR)  # the engine's own messages, as the service logs them
    config = load_config(config_path)
    command, redactor = pulumi_command(config), redactor_for(config)

    def one() -> float:
        started = time.monotonic()
        workspace = PreviewWorkspace(config.stack(stack), config.state_dir)
        run = run_preview(config, workspace, command, redactor, workspace.resolve("main"))
        if run.summary.failed:
            raise RuntimeError(f"the in-process preview failed: {run.summary}")
        return time.monotonic() - started

    return one


def main(rounds: int) -> int:
    local_env = local_environment()
    env = engine_environment(**{PASSPHRASE_ENV: PASSPHRASE, REGISTRY_PASSWORD_ENV: REGISTRY_PASSWORD})
    python = str(PROJECT_DIR / ".venv" / "bin" / "python")
    with tempfile.TemporaryDirectory(prefix="reconciler-bench-preview-") as scratch:
        root = Path(scratch)
        repo = ClusterRepo(root / "service", "rec-bench-preview", local_env)
        try:
            repo.remote.commit("many config maps", manifests(repo.namespace, extra_config_maps=EXTRA_CONFIG_MAPS))
            config = write_config(root / "reconciler.yaml", [repo.stack_entry()], state_dir=str(root / "state"),
                                  log_level="WARNING")
            timed([python, "-m", "reconciler", "once", "--config", str(config)], PROJECT_DIR, env)
            clone, direct_env = direct_clone(root, repo, env, local_env)
            reconciler_s, service_s, direct_s, resources = [], [], [], 0
            in_process = service_preview(config, repo.name, env)
            for _ in range(rounds):
                elapsed, out = timed([python, "-m", "reconciler", "preview", "--config", str(config), "--stack", repo.name,
                                      "--ref", "main", "--format", "json"], PROJECT_DIR, env)
                reconciler_s.append(elapsed)
                resources = json.loads(out)["changes"].get("same", 0)
                service_s.append(in_process())
                direct_s.append(timed(["pulumi", "--non-interactive", "preview", "--diff", "--color", "never"], clone,
                                      direct_env)[0])
        finally:
            repo.delete_namespace()
    ours, theirs = statistics.median(reconciler_s), statistics.median(direct_s)
    print(f"stack of {resources} unchanged resources, {rounds} rounds side by side")
    print(f"pulumi preview --diff:           {summary(direct_s)}")
    print(f"reconciler preview --ref main:   {summary(reconciler_s)}")
    print(f"the service's run_preview:       {summary(service_s)} ({statistics.median(service_s) - theirs:+.2f}s)")
    print(f"medians: reconciler {ours:.2f}s - pulumi {theirs:.2f}s = {ours - theirs:+.2f}s (goal <= +{GOAL_EXTRA_S:.1f}s)")
    return 0 if ours <= theirs + GOAL_EXTRA_S else 1


if __name__ == "__main__":
    raise SystemExit(main(int(sys.argv[1]) if len(sys.argv) > 1 else 3))
