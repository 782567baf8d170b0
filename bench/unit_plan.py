"""What units cost and save before the engine starts, on the 1,000-object scale set split by folders.

Times plan_units (every file parsed, unvalidated, for the automatic dependencies), which the parent
runs, and load_manifests of one unit's files against all files (schemas included, what a unit stack's run
pays instead of the whole load).

Then the unit program's step before the engine sees a resource (find its files, load them), with the plan
file the reconciler hands it against planning itself (a run by hand), at 1,000 and 5,000 objects in the
units layout of bench/scale_compare.py (ManifestSet.in_units): CPU seconds and peak RSS, each in a
process of its own (a peak never goes down), best of 3.

Run: PYTHONPATH=. .venv/bin/python bench/unit_plan.py [--sizes 1000,5000]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

from manifest_loader import load_manifests
from manifest_loader.unit_plan_file import PLAN_FILE_ENV, UnitPlanFile, handed_unit, write_unit_plan
from manifest_loader.units import plan_units, read_unit_settings
from testsupport.git_repos import commit_all, init_repo
from testsupport.scale_manifests import ManifestSet

OBJECTS = 1_000
RUNS = 5
STEP_RUNS = 3
SPLIT = {"split": "folders"}


def best_of(runs: int, work: Callable[[], object]) -> tuple[float, float]:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        work()
        times.append(time.perf_counter() - start)
    return min(times), statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="1000,5000", help="object counts of the unit step's sets")
    parser.add_argument("--step", choices=("handed", "planned"), help=argparse.SUPPRESS)  # a child: one step
    parser.add_argument("--manifests", help=argparse.SUPPRESS)
    parser.add_argument("--unit", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.step:
        print(json.dumps(unit_step(args.step, Path(args.manifests), args.unit)))
        return
    plan_and_load()
    for size in (int(size) for size in args.sizes.split(",") if size):
        compare_unit_steps(size)


def plan_and_load() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "repo"
        manifests = root / "manifests"
        ManifestSet.generate(OBJECTS, "s1k").write(manifests)
        repo = init_repo(root)
        commit_all(repo, "scale set")
        settings = read_unit_settings({"split": "folders"}, "Pulumi.bench.yaml")

        plan = plan_units(manifests, settings)
        unit = plan.units[-1]
        load_manifests(manifests, manifests, kubernetes_version="1.34")  # builds the validators once, as a run does
        timings = {
            f"plan_units ({len(plan.units)} units)": best_of(RUNS, lambda: plan_units(manifests, settings)),
            "load_manifests, all files": best_of(RUNS, lambda: load_manifests(manifests, manifests, kubernetes_version="1.34")),
            f"load_manifests, unit {unit.name} ({len(unit.files)} files)": best_of(
                RUNS, lambda: load_manifests(manifests, manifests, kubernetes_version="1.34", files=unit.files)
            ),
        }
        for name, (best, median) in timings.items():
            print(f"{name:50} best {best:.3f} s  median {median:.3f} s")


def compare_unit_steps(size: int) -> None:
    """One apps unit's step in a fresh process, with the handed plan and planning itself."""
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "repo"
        manifests = root / "manifests"
        ManifestSet.generate(size, f"u{size}").in_units().write(manifests)
        commit = commit_all(init_repo(root), "scale set in units")
        plan = plan_units(manifests, read_unit_settings(SPLIT, "Pulumi.bench.yaml"))
        unit = plan.units[-1]
        plan_file = Path(tmp) / "unit-plan.json"
        write_unit_plan(plan_file, UnitPlanFile("bench." + unit.name, unit.name, commit, unit.files, unit.depends_on))
        env = {**os.environ, PLAN_FILE_ENV: str(plan_file)}
        print(f"\nunit step at {size:,} objects, {len(plan.units)} units, unit {unit.name} ({len(unit.files)} files):")
        for step in ("handed", "planned"):
            runs = [json.loads(subprocess.run(
                [sys.executable, __file__, "--step", step, "--manifests", str(manifests), "--unit", unit.name],
                env=env, check=True, capture_output=True, text=True,
            ).stdout) for _ in range(STEP_RUNS)]
            cpu = sorted(run["cpu_s"] for run in runs)
            print(f"  {step:8} CPU best {cpu[0]:.3f} s, median {statistics.median(cpu):.3f} s"
                  f"  peak RSS {max(r['peak_mb'] for r in runs):.1f} MB"
                  f" ({max(r['peak_mb'] - r['before_mb'] for r in runs):.1f} MB above the imports)")


def unit_step(step: str, manifests: Path, unit_name: str) -> dict[str, float]:
    """What _unit_stack does before its resources: its unit's files (handed, or planned here), then their load."""
    before_mb = _peak_mb()
    start = time.process_time()
    if step == "handed":
        unit, why_not = handed_unit(manifests, "bench." + unit_name, unit_name)
        assert unit is not None, why_not
    else:
        unit = plan_units(manifests, read_unit_settings(SPLIT, "Pulumi.bench.yaml")).get(unit_name)
    load_manifests(manifests, manifests, kubernetes_version="1.34", files=unit.files)
    return {"cpu_s": time.process_time() - start, "peak_mb": _peak_mb(), "before_mb": before_mb}


def _peak_mb() -> float:
    """This process's peak RSS (VmHWM): getrusage's ru_maxrss would keep the parent's peak across fork and exec."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024  # kB
    raise RuntimeError("no VmHWM in /proc/self/status (Linux only)")


if __name__ == "__main__":
    main()
