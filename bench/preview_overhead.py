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
    same backend, stack, passphrase and config values;
  - with --before DIR, `reconciler preview` of another copy of this
    repository (an older commit: `git archive COMMIT | tar -x -C DIR`) on
    the same stack, with its own state directory.
The order changes from round to round, so a busy machine weighs on each
alike. Medians of the rounds; goal: reconciler <= pulumi preview + 1 s.

Run (local environment up and in the shell, see reconciler_common.py):
    .venv/bin/python bench/preview_overhead.py [ROUNDS] [--before DIR]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import resource
import statistics
import subprocess
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


def cpu_seconds(*who: int) -> float:
    """User + system CPU of `who` (resource.RUSAGE_SELF, RUSAGE_CHILDREN: every waited-for descendant)."""
    return sum(usage.ru_utime + usage.ru_stime for usage in map(resource.getrusage, who))


CPU: dict[str, list[float]] = {}  # each run's CPU seconds, by the name it is timed under


def timed(argv: list[str], cwd: Path, env: dict[str, str], cpu_name: str = "") -> tuple[float, str]:
    started, cpu_started = time.monotonic(), cpu_seconds(resource.RUSAGE_CHILDREN)
    result = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=900)
    elapsed = time.monotonic() - started
    if cpu_name:
        CPU.setdefault(cpu_name, []).append(cpu_seconds(resource.RUSAGE_CHILDREN) - cpu_started)
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
        started, cpu_started = time.monotonic(), cpu_seconds(resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)
        workspace = PreviewWorkspace(config.stack(stack), config.state_dir)
        run = run_preview(config, workspace, command, redactor, workspace.resolve("main"))
        if run.summary.failed:
            raise RuntimeError(f"the in-process preview failed: {run.summary}")
        CPU.setdefault("service", []).append(cpu_seconds(resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN) - cpu_started)
        return time.monotonic() - started

    return one


def main(rounds: int, before: Path | None) -> int:
    local_env = local_environment()
    env = engine_environment(**{PASSPHRASE_ENV: PASSPHRASE, REGISTRY_PASSWORD_ENV: REGISTRY_PASSWORD})
    python = str(PROJECT_DIR / ".venv" / "bin" / "python")
    times: dict[str, list[float]] = {"pulumi": [], "reconciler": [], "service": [], "before": []}
    resources = 0
    with tempfile.TemporaryDirectory(prefix="reconciler-bench-preview-") as scratch:
        root = Path(scratch)
        repo = ClusterRepo(root / "service", "rec-bench-preview", local_env)
        try:
            repo.remote.commit("many config maps", manifests(repo.namespace, extra_config_maps=EXTRA_CONFIG_MAPS))
            config = write_config(root / "reconciler.yaml", [repo.stack_entry()], state_dir=str(root / "state"),
                                  log_level="WARNING")
            timed([python, "-m", "reconciler", "once", "--config", str(config)], PROJECT_DIR, env)
            clone, direct_env = direct_clone(root, repo, env, local_env)
            in_process = service_preview(config, repo.name, env)

            def preview_command(tree: Path, config_path: Path, name: str) -> float:
                nonlocal resources
                elapsed, out = timed([python, "-m", "reconciler", "preview", "--config", str(config_path), "--stack",
                                      repo.name, "--ref", "main", "--format", "json"], tree, {**env, "PYTHONPATH": str(tree)},
                                     name)
                resources = json.loads(out)["changes"].get("same", 0)
                return elapsed

            runs = {
                "pulumi": lambda: timed(["pulumi", "--non-interactive", "preview", "--diff", "--color", "never"], clone,
                                        direct_env, "pulumi")[0],
                "reconciler": lambda: preview_command(PROJECT_DIR, config, "reconciler"),
                "service": in_process,
            }
            if before is not None:
                # The older tree may not know this one's keys; it ran previews as root, which needs none of them.
                entry = {key: value for key, value in repo.stack_entry().items() if key != "preview_files"}
                before_config = write_config(root / "reconciler-before.yaml", [entry], state_dir=str(root / "state-before"),
                                             log_level="WARNING")
                runs["before"] = lambda: preview_command(before, before_config, "before")
            for round_number in range(rounds):
                order = list(runs)
                shift = round_number % len(order)
                for name in order[shift:] + order[:shift]:
                    times[name].append(runs[name]())
        finally:
            repo.delete_namespace()
    direct = statistics.median(times["pulumi"])
    print(f"stack of {resources} unchanged resources, {rounds} rounds side by side")
    print(f"pulumi preview --diff:            {summary(times['pulumi'])}")
    for name, label in (("reconciler", "reconciler preview --ref main:"), ("service", "the service's run_preview:   "),
                        ("before", f"reconciler preview of {before}:")):
        if times[name]:
            print(f"{label} {summary(times[name])} ({statistics.median(times[name]) - direct:+.2f}s)")
    # CPU seconds of each process tree: what a preview costs, less moved by the machine's load than wall time.
    direct_cpu = statistics.median(CPU["pulumi"])
    for name in ("pulumi", "reconciler", "service", "before"):
        if CPU.get(name):
            print(f"CPU {name:<10} median {statistics.median(CPU[name]):.2f}s ({statistics.median(CPU[name]) - direct_cpu:+.2f}s)")
    ours = statistics.median(times["reconciler"])
    print(f"medians: reconciler {ours:.2f}s - pulumi {direct:.2f}s = {ours - direct:+.2f}s (goal <= +{GOAL_EXTRA_S:.1f}s)")
    return 0 if ours <= direct + GOAL_EXTRA_S else 1


if __name__ == "__main__":
    arguments = argparse.ArgumentParser(description="a pull request preview by the reconciler vs pulumi preview")
    arguments.add_argument("rounds", nargs="?", type=int, default=3)
    arguments.add_argument("--before", type=Path, metavar="DIR", help="another copy of this repository to time alike")
    parsed = arguments.parse_args()
    raise SystemExit(main(parsed.rounds, parsed.before))
