"""Benchmark 2: overhead - the same change applied by the reconciler vs by `pulumi up` directly, in one run, as a ratio.

Two twin repositories built from this project's program, in their own
namespaces; each round commits the same ConfigMap change to both, applies one
with `python -m reconciler once` (a whole process: git, checkout, [preview and
deletion guard,] up, record) and the other with `pulumi up --yes` in its clone
(preview + update in one process). The reconciled stack runs once without a
deletion guard (straight to `up`) and once with one (a separate preview first).
Ratios of the medians, for the whole `once` process and for the run as the
reconciler times it (`duration_s`, what the service spends). Goal: <= 1.05.

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


def once(config: Path, env: dict[str, str]) -> tuple[float, dict]:
    started = time.monotonic()
    result = subprocess.run([str(PROJECT_DIR / ".venv" / "bin" / "python"), "-m", "reconciler", "once", "--config", str(config), "--json"],
                            cwd=PROJECT_DIR, env=env, capture_output=True, text=True, timeout=900)
    elapsed = time.monotonic() - started
    line = json.loads(result.stdout.splitlines()[0])
    if result.returncode != 0 or line["result"] != "applied":
        raise RuntimeError(f"once did not apply: {line}\n{result.stderr[-3000:]}")
    return elapsed, line


def main(rounds: int) -> int:
    local_env = local_environment()
    env = engine_environment(**{PASSPHRASE_ENV: "bench-passphrase", REGISTRY_PASSWORD_ENV: "unused"})
    with tempfile.TemporaryDirectory(prefix="reconciler-bench-overhead-") as scratch:
        root = Path(scratch)
        repo = ClusterRepo(root / "reconciled", "rec-bench-overhead", local_env)
        twin = CliTwin(root / "twin", "rec-bench-overhead-cli", local_env, env)
        config = write_config(root / "reconciler.yaml", [repo.stack_entry()], state_dir=str(root / "state"), log_level="WARNING")
        try:
            guarded = write_config(root / "guarded.yaml", [repo.stack_entry(deletion_guard=100)],
                                   state_dir=str(root / "state"), log_level="WARNING")
            once(config, env)
            twin.up()
            results: dict[str, tuple[list[float], list[float]]] = {"no guard": ([], []), "guard": ([], [])}
            direct = []
            for n in range(rounds):
                for label, stack_config in (("no guard", config), ("guard", guarded)):
                    repo.remote.commit(f"{label} change {n}", manifests(repo.namespace, greeting=f"{label}-{n}"))
                    elapsed, line = once(stack_config, env)
                    results[label][0].append(elapsed)
                    results[label][1].append(line["duration_s"])
                twin.repo.remote.commit(f"change {n}", manifests(twin.repo.namespace, greeting=f"round-{n}"), push=False)
                direct.append(twin.up())
        finally:
            repo.delete_namespace()
            twin.repo.delete_namespace()
    baseline = statistics.median(direct)
    print(f"pulumi up --yes directly: {summary(direct)}")
    met = True
    for label, (whole, inside) in results.items():
        ratio, inside_ratio = statistics.median(whole) / baseline, statistics.median(inside) / baseline
        met = met and (label == "guard" or inside_ratio <= GOAL)
        print(f"reconciler, {label:8}: once {summary(whole)}; run {summary(inside)}")
        print(f"    ratio (medians) once/up = {ratio:.3f}, run/up = {inside_ratio:.3f} - goal <= {GOAL}")
    return 0 if met else 1


if __name__ == "__main__":
    raise SystemExit(main(int(sys.argv[1]) if len(sys.argv) > 1 else 5))
