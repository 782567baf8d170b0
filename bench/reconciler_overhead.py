"""Benchmark 2: overhead - the same change applied by the reconciler vs by `pulumi up` directly, in one run, as a ratio.

Two twin repositories built from this project's program, in their own
namespaces; each round commits the same ConfigMap change to both, applies one
with `python -m reconciler once` (a whole process: git, checkout, [preview and
deletion guard,] up, record) and the other with `pulumi up --yes` in its clone
(preview + update in one process), then once more with `pulumi up --yes
--skip-preview` (the program runs once, as in the reconciler without a preview).
The reconciled stack runs once without a deletion guard (straight to `up`) and
once with one whose `guard_manifests` is the manifests folder: a commit that
only changes a ConfigMap's data deletes nothing by the object sets, so no
separate preview runs (a first untimed round checks that from the log). Ratios
of the medians, for the whole `once` process and for the run as the reconciler
times it (`duration_s`, what the service spends). Goal: run/up <= 1.05 for both.

Run (local environment up and in the shell, see reconciler_common.py):
    .venv/bin/python bench/reconciler_overhead.py [ROUNDS]
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from reconciler_common import PROJECT_DIR, CliTwin, engine_environment, local_environment, summary

from testsupport.reconciler_cluster import PASSPHRASE_ENV, REGISTRY_PASSWORD_ENV, ClusterRepo, manifests
from testsupport.reconciler_testing import write_config

GOAL = 1.05
GUARD_SKIPPED = "deletion guard: nothing can be deleted"


def once(config: Path, env: dict[str, str]) -> tuple[float, dict, str]:
    started = time.monotonic()
    result = subprocess.run([str(PROJECT_DIR / ".venv" / "bin" / "python"), "-m", "reconciler", "once", "--config", str(config), "--json"],
                            cwd=PROJECT_DIR, env=env, capture_output=True, text=True, timeout=900)
    elapsed = time.monotonic() - started
    line = json.loads(result.stdout.splitlines()[0])
    if result.returncode != 0 or line["result"] != "applied":
        raise RuntimeError(f"once did not apply: {line}\n{result.stderr[-3000:]}")
    return elapsed, line, result.stderr


def main(rounds: int) -> int:
    local_env = local_environment()
    env = engine_environment(**{PASSPHRASE_ENV: "bench-passphrase", REGISTRY_PASSWORD_ENV: "unused"})
    with tempfile.TemporaryDirectory(prefix="reconciler-bench-overhead-") as scratch:
        root = Path(scratch)
        repo = ClusterRepo(root / "reconciled", "rec-bench-overhead", local_env)
        twin = CliTwin(root / "twin", "rec-bench-overhead-cli", local_env, env)
        config = write_config(root / "reconciler.yaml", [repo.stack_entry()], state_dir=str(root / "state"), log_level="WARNING")
        try:
            guard_entry = repo.stack_entry(deletion_guard=100, guard_manifests=["manifests"])
            guarded = write_config(root / "guarded.yaml", [guard_entry], state_dir=str(root / "state"), log_level="WARNING")
            # The same stack at INFO, for the untimed round that shows whether the guard previewed.
            guard_check = write_config(root / "guard-check.yaml", [guard_entry], state_dir=str(root / "state"), log_level="INFO")
            once(config, env)
            twin.up()
            repo.remote.commit("guard check", manifests(repo.namespace, greeting="guard-check"))
            skipped = GUARD_SKIPPED in once(guard_check, env)[2]
            results: dict[str, tuple[list[float], list[float]]] = {"no guard": ([], []), "guard": ([], [])}
            direct: list[float] = []
            direct_skip_preview: list[float] = []
            for n in range(rounds):
                for label, stack_config in (("no guard", config), ("guard", guarded)):
                    repo.remote.commit(f"{label} change {n}", manifests(repo.namespace, greeting=f"{label}-{n}"))
                    elapsed, line, _ = once(stack_config, env)
                    results[label][0].append(elapsed)
                    results[label][1].append(line["duration_s"])
                for label, flags, times in (("up", (), direct), ("skip-preview", ("--skip-preview",), direct_skip_preview)):
                    twin.repo.remote.commit(f"{label} change {n}", manifests(twin.repo.namespace, greeting=f"{label}-{n}"), push=False)
                    times.append(twin.up(*flags))
        finally:
            repo.delete_namespace()
            twin.repo.delete_namespace()
    baseline, skip_preview = statistics.median(direct), statistics.median(direct_skip_preview)
    print(f"guarded manifest-only change: {'no separate preview' if skipped else 'previewed (the program ran twice)'}")
    print(f"pulumi up --yes directly: {summary(direct)}")
    print(f"pulumi up --yes --skip-preview directly: {summary(direct_skip_preview)}")
    met = True
    for label, (whole, inside) in results.items():
        ratio, inside_ratio = statistics.median(whole) / baseline, statistics.median(inside) / baseline
        met = met and inside_ratio <= GOAL
        print(f"reconciler, {label:8}: once {summary(whole)}; run {summary(inside)}")
        print(f"    ratio (medians) once/up = {ratio:.3f}, run/up = {inside_ratio:.3f} - goal <= {GOAL}")
        print(f"    ratio (medians) once/up --skip-preview = {statistics.median(whole) / skip_preview:.3f}, "
              f"run/up --skip-preview = {statistics.median(inside) / skip_preview:.3f}")
    return 0 if met else 1


if __name__ == "__main__":
    raise SystemExit(main(int(sys.argv[1]) if len(sys.argv) > 1 else 5))
