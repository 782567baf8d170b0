"""What units cost and save before the engine starts, on the 1,000-object scale set split by folders.

Times plan_units (every file parsed, unvalidated, for the automatic dependencies), which the parent and every
unit stack run, and load_manifests of one unit's files against all files (schemas included, what a unit
stack's run pays instead of the whole load).

Run: .venv/bin/python bench/unit_plan.py
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path
from typing import Callable

from manifest_loader import load_manifests
from manifest_loader.units import plan_units, read_unit_settings
from testsupport.git_repos import commit_all, init_repo
from testsupport.scale_manifests import ManifestSet

OBJECTS = 1_000
RUNS = 5


def best_of(runs: int, work: Callable[[], object]) -> tuple[float, float]:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        work()
        times.append(time.perf_counter() - start)
    return min(times), statistics.median(times)


def main() -> None:
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


if __name__ == "__main__":
    main()
