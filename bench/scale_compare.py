"""Our `pulumi up` (one stack) or the reconciler's units against `kubectl apply --server-side --prune`, same objects.

For each size, on the local API server, alternating the two tools step by step:
first apply; a run with no change; 10% of the objects changed; 10% deleted.
Pulumi runs as users run it: the CLI in a project folder (a copy of this
project in its own Git repository, file backend), `pulumi up --yes
--skip-preview` after each commit. kubectl applies the same files (the image
placeholder filled in) with an ApplySet; the no-change step is `kubectl diff
--server-side`, and, for reference, a no-op apply and `pulumi up --refresh`.
Both sides are checked after each step: the API server holds exactly the
set's objects. Everything is created under names of its own and removed at
the end (`pulumi destroy`, then kubectl deletes its namespaces and CRDs).
Each run's peak memory and CPU time are measured for the whole process tree
and per process (the CLI, the kubernetes provider, the Python program, ...;
testsupport/scale_measure.py). `--checkpoints on,off` runs our side twice per
step, the second time with PULUMI_SKIP_CHECKPOINTS=true, each on a set of
its own.

`--layout units` (or `stack,units`) also deploys a set of its own laid out in
folders of ~100 objects (the CRD and the Namespaces in `platform/`), one unit
stack per folder, run as users run units: `python -m reconciler once` per step
(bench/scale_units.py), the whole `once` timed. Its no-change step is a
commit outside the manifests, which runs every unit. For runs of several
engines the peak of the largest single one (a `pulumi` CLI with its plugins
and program) is measured too.

Run (the local environment must be up: `make cluster-up`):
    source tools/env.sh
    .venv/bin/python bench/scale_compare.py                      # 10, 100, 1,000 objects, once each
    .venv/bin/python bench/scale_compare.py --sizes 100 --repeat 3
    .venv/bin/python bench/scale_compare.py --sizes 1000 --pulumi-env PULUMI_PARALLEL=8   # a variant
    .venv/bin/python bench/scale_compare.py --sizes 1000 --steps first --skip-kubectl --event-logs --keep
    .venv/bin/python bench/scale_compare.py --sizes 10,100,1000,5000 --checkpoints on,off --skip-kubectl
    .venv/bin/python bench/scale_compare.py --sizes 10,100,1000,5000 --layout stack,units --checkpoints off --repeat 2
It prints a Markdown table and writes every figure to --out (JSON).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import secrets
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Optional

from scale_units import UnitsSide

from manifest_loader import MANAGED_BY_LABEL, MANAGER_NAME
from testsupport.local_project import LocalProject
from testsupport.scale_cluster import BenchNode, Kubectl, KubectlApplySet, live_objects
from testsupport.scale_manifests import SET_LABEL, ManifestSet
from testsupport.scale_measure import Measurement, ProcessUse, load_average, run_measured

BENCH_DIR = Path(__file__).resolve().parent
PROJECT_DIR = BENCH_DIR.parent

FRACTION = 0.10
# kwok never pulls images: any digest reference will do for kubectl's copy of the files.
KUBECTL_IMAGE = "127.0.0.1:5050/demo@sha256:" + "0" * 64
PULUMI_UP = ["pulumi", "--non-interactive", "--color", "never", "up", "--stack", "local", "--yes", "--skip-preview"]
# The engine's switch for the file backend's checkpoints (README "Scale"): "off" sets it.
SKIP_CHECKPOINTS = {"on": {}, "off": {"PULUMI_SKIP_CHECKPOINTS": "true"}}
# Per-process columns of the summary, in this order; other roles (git, short-lived helpers) go to "other".
PROCESS_COLUMNS = ("CLI", "kubernetes", "program", "language host", "docker-build")
# A run's time limit grows with its objects: the checkpoints make a first apply's cost grow with their square.
SECONDS_PER_OBJECT = 3.0
LAYOUTS = ("stack", "units")


@dataclass
class Row:
    size: int
    repeat: int
    step: str
    tool: str
    command: str
    seconds: float
    cpu_seconds: float
    peak_rss_mb: float
    load_before: float
    returncode: int
    exact: Optional[bool]  # the API server held exactly the expected objects afterwards (None: not checked)
    checkpoints: str = ""  # on or off, for our runs
    peak_anon_mb: float = 0.0  # RssAnon of the tree: what its processes allocated, without their executables' pages
    processes: dict[str, ProcessUse] = field(default_factory=dict)  # by role, testsupport.scale_measure.process_role
    layout: str = ""  # stack or units, for our runs
    peak_engine_mb: float = 0.0  # the largest RSS of one `pulumi` CLI with its plugins and program at one moment
    peak_engine_anon_mb: float = 0.0
    stacks: dict[str, float] = field(default_factory=dict)  # units: each stack `once` ran, to its run's seconds
    engine_peaks: dict[str, list[float]] = field(default_factory=dict)  # each engine's --stack to its peak [RSS, anon] MB


def local_environment() -> dict[str, str]:
    """The exports of `python -m localenv env`, after `up` (idempotent: instant when it runs already)."""
    env = dict(os.environ)
    env.setdefault("GITOPS_STATE_DIR", str(PROJECT_DIR / ".state"))
    python = str(PROJECT_DIR / ".venv" / "bin" / "python")
    up = subprocess.run([python, "-m", "localenv", "up"], cwd=PROJECT_DIR, env=env, capture_output=True, text=True)
    if up.returncode != 0:
        sys.exit(f"the local environment did not start (`make cluster-up` says why):\n{up.stdout}{up.stderr}")
    printed = subprocess.run([python, "-m", "localenv", "env"], cwd=PROJECT_DIR, env=env, capture_output=True, text=True)
    exports = dict(line.removeprefix("export ").split("=", 1) for line in printed.stdout.splitlines())
    exports = {name: shlex.split(value)[0] for name, value in exports.items()}
    exports["GITOPS_STATE_DIR"] = env["GITOPS_STATE_DIR"]
    return exports


class PulumiSide:
    layout = "stack"
    refreshes = True

    def __init__(self, root: Path, env: dict[str, str], extra_env: dict[str, str], extra_args: list[str], logs: Path,
                 manifest_set: ManifestSet, checkpoints: str, timeout: float, event_logs: bool = False) -> None:
        self.project = LocalProject.create(root, env)
        self.event_logs = event_logs
        self.checkpoints = checkpoints
        self.env = {**self.project.env(), **SKIP_CHECKPOINTS[checkpoints], **extra_env}
        self.extra_args = extra_args
        self.logs = logs
        self.manifest_set = manifest_set
        self.timeout = timeout
        self.selector = f"{SET_LABEL}={manifest_set.prefix},{MANAGED_BY_LABEL}={MANAGER_NAME}"
        self.tool = "pulumi up" if checkpoints == "on" else "pulumi up, no checkpoints"
        self.destroy_tool = self.tool.replace("up", "destroy")

    def commit(self, manifest_set: ManifestSet, message: str) -> None:
        manifest_set.write(self.project.root / "manifests")
        self.project.commit(message)

    def up(self, name: str, *more: str) -> Measurement:
        argv = [*PULUMI_UP, *self.extra_args, *more]
        env = self.env
        if self.event_logs:
            # The engine's events with their times, to see where a run spends them (a debug flag of the CLI).
            argv += ["--event-log", str(self.logs / f"{name}.events.jsonl")]
            env = {**env, "PULUMI_DEBUG_COMMANDS": "true"}
        return run_measured(argv, env, cwd=self.project.root, timeout=self.timeout, log=self.logs / f"{name}.log")

    def destroy(self, name: str) -> Measurement:
        argv = ["pulumi", "--non-interactive", "--color", "never", "destroy", "--stack", "local", "--yes",
                "--skip-preview", *self.extra_args]
        return run_measured(argv, self.env, cwd=self.project.root, timeout=self.timeout, log=self.logs / f"{name}.log")

    def command(self, *more: str, argv: tuple[str, ...] = tuple(PULUMI_UP)) -> str:
        prefix = [f"{name}={value}" for name, value in SKIP_CHECKPOINTS[self.checkpoints].items()]
        return " ".join([*prefix, *argv, *self.extra_args, *more])

    def destroy_command(self) -> str:
        return self.command(argv=("pulumi", "destroy", "--yes", "--skip-preview"))


class KubectlSide:
    def __init__(self, kubectl: Kubectl, manifest_set: ManifestSet, folder: Path, env: dict[str, str], logs: Path) -> None:
        self.kubectl = kubectl
        self.applyset = KubectlApplySet(kubectl, manifest_set)
        self.folder = folder
        self.diff_folder = folder.with_name(folder.name + "-diff")
        self.env = {**os.environ, **env, "KUBECTL_APPLYSET": "true", "KUBECONFIG": kubectl.kubeconfig}
        self.logs = logs
        self.applyset.create_parent()

    def write(self, manifest_set: ManifestSet) -> None:
        manifest_set.write(self.folder, image=KUBECTL_IMAGE)
        # kubectl adds the ApplySet label when it applies and refuses files that carry it; `kubectl diff`
        # knows no ApplySet, so its copy carries the label (else every object would show it removed).
        manifest_set.write(self.diff_folder, image=KUBECTL_IMAGE, extra_labels=self.applyset.labels)

    def run(self, name: str, *args: str) -> Measurement:
        return run_measured(["kubectl", *args], self.env, log=self.logs / f"{name}.log")

    def first_apply(self, name: str, manifest_set: ManifestSet) -> tuple[Measurement, str]:
        # kubectl cannot map a custom object whose CRD it applies in the same run:
        # the CRD goes first and must be Established (Flux does the same).
        crd = self.run(f"{name}-crd", "apply", "--server-side", "--filename", str(self.folder / "00-cluster"))
        established = self.run(f"{name}-wait", "wait", "--for=condition=Established", f"crd/widgets.{manifest_set.group}")
        rest = self.run(name, *self.applyset.apply_args(str(self.folder)))
        command = (f"kubectl apply --server-side -f <dir>/00-cluster && kubectl wait --for=condition=Established crd/... && "
                   f"{self.command('apply')}")
        return crd.merged(established).merged(rest), command

    def apply(self, name: str) -> Measurement:
        return self.run(name, *self.applyset.apply_args(str(self.folder)))

    def diff(self, name: str) -> Measurement:
        return self.run(name, "diff", "--server-side", "--recursive", "--filename", str(self.diff_folder))

    def command(self, kind: str) -> str:
        if kind == "diff":
            return "kubectl diff --server-side -R -f <dir>"
        return f"KUBECTL_APPLYSET=true kubectl apply --server-side --prune --applyset={self.applyset.parent} -R -f <dir>"


def exact(kubectl: Kubectl, manifest_set: ManifestSet, selector: str) -> bool:
    live = live_objects(kubectl, manifest_set, selector)
    expected = manifest_set.expected()
    if live == expected:
        return True
    for resource in sorted(set(live) | set(expected)):
        extra, missing = live.get(resource, set()) - expected.get(resource, set()), expected.get(resource, set()) - live.get(resource, set())
        if extra or missing:
            print(f"  {resource}: {len(extra)} unexpected {sorted(extra)[:5]}, {len(missing)} missing {sorted(missing)[:5]}", flush=True)
    return False


def bench_size(size: int, repeat: int, args: argparse.Namespace, env: dict[str, str], kubectl: Kubectl, node: str,
               workdir: Path, run_id: str, on_row: Callable[[Row], None]) -> None:
    logs = workdir / "logs" / f"{size}-{repeat}"
    logs.mkdir(parents=True)
    theirs = ManifestSet.generate(size, f"k{size}-{run_id}{repeat}", node=node)
    steps = [("first", lambda s: s), ("no change", lambda s: s), ("change 10%", lambda s: s.with_changes(FRACTION)),
             ("delete 10%", lambda s: s.with_changes(FRACTION).without(FRACTION))]
    steps = [(step, make) for step, make in steps if step.split()[0] in args.steps]
    kubectl_selector = f"{SET_LABEL}={theirs.prefix}"
    timeout = max(3600.0, SECONDS_PER_OBJECT * size)

    def record(step: str, tool: str, command: str, measured: Measurement, exact_after: Optional[bool],
               side: Optional[PulumiSide | UnitsSide] = None) -> None:
        processes = {role: ProcessUse(round(use.peak_rss_mb, 1), use.cpu_seconds, use.processes, round(use.peak_anon_mb, 1))
                     for role, use in measured.processes.items()}
        stacks = dict(side.stacks) if isinstance(side, UnitsSide) and step != "destroy" else {}
        row = Row(size, repeat, step, tool, command, round(measured.seconds, 2), round(measured.cpu_seconds, 1),
                  round(measured.peak_rss_mb, 1), measured.load_before, measured.returncode, exact_after,
                  side.checkpoints if side else "", round(measured.peak_anon_mb, 1), processes,
                  side.layout if side else "", round(measured.peak_engine_mb, 1), round(measured.peak_engine_anon_mb, 1),
                  stacks, {stack: [round(rss, 1), round(anon, 1)] for stack, (rss, anon) in measured.engine_peaks.items()})
        on_row(row)
        status = "" if row.returncode == 0 else f"  EXIT {row.returncode}"
        status += "" if exact_after in (None, True) else "  NOT EXACT"
        print(f"{size:5d} #{repeat} {step:11s} {tool:26s} {row.seconds:8.2f} s {row.cpu_seconds:7.1f} cpu-s {row.peak_rss_mb:7.1f} MB"
              f" ({row.peak_anon_mb:.0f} anon), one engine {row.peak_engine_mb:.0f} MB  load {row.load_before:4.2f}{status}",
              flush=True)
        print(f"{'':24s}{process_breakdown(processes)}", flush=True)
        if stacks:
            print(f"{'':24s}{stacks_breakdown(stacks)}", flush=True)
            print(f"{'':24s}{engines_breakdown(row.engine_peaks)}", flush=True)

    ours: list[PulumiSide | UnitsSide] = []
    try:
        # Each variant deploys a set of its own (its own prefix: p<size><c, s or u>-...), from a project of its own.
        for checkpoints in args.checkpoints if "stack" in args.layouts else []:
            letter = "c" if checkpoints == "on" else "s"
            manifest_set = ManifestSet.generate(size, f"p{size}{letter}-{run_id}{repeat}", node=node)
            ours.append(PulumiSide(workdir / f"pulumi-{size}-{repeat}-{letter}" / "service", env, args.pulumi_env,
                                   args.pulumi_arg, logs, manifest_set, checkpoints, timeout,
                                   event_logs=args.event_logs))
        if "units" in args.layouts:
            manifest_set = ManifestSet.generate(size, f"p{size}u-{run_id}{repeat}", node=node).in_units()
            ours.append(UnitsSide(workdir / f"units-{size}-{repeat}", env, logs, manifest_set, timeout, args.units_parallel))
        them = None if args.skip_kubectl else KubectlSide(kubectl, theirs, workdir / f"kubectl-{size}-{repeat}", env, logs)
        for step, make in steps:
            slug = step.split()[0]
            for pulumi in ours:
                ours_now = make(pulumi.manifest_set)
                name = f"{pulumi.layout}-{pulumi.checkpoints}-{slug}"
                pulumi.commit(ours_now, step)
                measured = pulumi.up(name)
                record(step, pulumi.tool, pulumi.command(), measured, exact(kubectl, ours_now, pulumi.selector), pulumi)
                if step == "no change" and isinstance(pulumi, PulumiSide) and not args.skip_refresh:
                    measured = pulumi.up(f"{name}-refresh", "--refresh")
                    record(step, f"{pulumi.tool} --refresh", pulumi.command("--refresh"), measured, None, pulumi)
            if them is None:
                continue
            theirs_now = make(theirs)
            them.write(theirs_now)
            if step == "first":
                measured, command = them.first_apply(f"kubectl-{slug}", theirs_now)
            elif step == "no change":
                measured, command = them.diff(f"kubectl-{slug}"), them.command("diff")
                record(step, "kubectl diff", command, measured, None)
                if args.skip_kubectl_noop:
                    continue
                measured, command = them.apply(f"kubectl-{slug}-apply"), them.command("apply")
                record(step, "kubectl apply (no-op)", command, measured, exact(kubectl, theirs_now, kubectl_selector))
                continue
            else:
                measured, command = them.apply(f"kubectl-{slug}"), them.command("apply")
            record(step, "kubectl apply", command, measured, exact(kubectl, theirs_now, kubectl_selector))
    finally:
        try:
            for pulumi in ours if not args.fast_cleanup else []:
                destroyed = pulumi.destroy(f"{pulumi.layout}-{pulumi.checkpoints}-destroy")
                left = any(live_objects(kubectl, pulumi.manifest_set, pulumi.selector).values())
                record("destroy", pulumi.destroy_tool, pulumi.destroy_command(), destroyed, not left,
                       pulumi)
                if left:  # a failed destroy still leaves the cluster as it was found
                    KubectlApplySet(kubectl, pulumi.manifest_set).delete_all(pulumi.manifest_set)
        finally:
            for pulumi in ours if args.fast_cleanup else []:
                KubectlApplySet(kubectl, pulumi.manifest_set).delete_all(pulumi.manifest_set)
            if not args.skip_kubectl:
                KubectlApplySet(kubectl, theirs).delete_all(theirs)


def process_breakdown(processes: dict[str, ProcessUse]) -> str:
    """`CLI 512 MB (400 anon) 120.3 cpu-s, kubernetes 300 MB (180 anon) 40.1 cpu-s, ...`, biggest first."""
    return ", ".join(f"{role} {use.peak_rss_mb:.0f} MB ({use.peak_anon_mb:.0f} anon) {use.cpu_seconds:.1f} cpu-s"
                     for role, use in processes.items())


def stacks_breakdown(stacks: dict[str, float]) -> str:
    """`parent 31.0 s; 11 units: 12.1 s each (median), 24.3 s the slowest`: where a units run's time went."""
    parent, *units = stacks.values()
    if not units:
        return f"parent {parent:.1f} s, no unit ran"
    return (f"parent {parent:.1f} s; {len(units)} units: {statistics.median(units):.1f} s each (median), "
            f"{max(units):.1f} s the slowest, {sum(units):.0f} s in all")


def one_engine_peak(row: Row) -> float:
    """The largest single engine's peak RSS; for units, the largest unit stack's (the parent's is printed apart)."""
    units = [peak[0] for stack, peak in row.engine_peaks.items() if "." in stack]
    return max(units) if row.layout == "units" and units else row.peak_engine_mb


def engines_breakdown(peaks: dict[str, list[float]]) -> str:
    """The parent's engine peak and the largest unit stack's (its stack name has a `.<unit>`)."""
    units = {stack: peak for stack, peak in peaks.items() if "." in stack}
    parent = max((peak for stack, peak in peaks.items() if stack and "." not in stack), default=[0.0, 0.0])
    if not units:
        return f"engine peaks: parent {parent[0]:.0f} MB ({parent[1]:.0f} anon), no unit stack"
    largest = max(units, key=lambda stack: units[stack][0])
    return (f"engine peaks: parent {parent[0]:.0f} MB ({parent[1]:.0f} anon); largest unit stack {largest} "
            f"{units[largest][0]:.0f} MB ({units[largest][1]:.0f} anon), median unit "
            f"{statistics.median(peak[0] for peak in units.values()):.0f} MB")


def cpu_growth(rows: list[Row]) -> str:
    """For each of our tools and kubectl: the first apply's CPU seconds (median) from each size to the next."""
    firsts: dict[str, dict[int, list[float]]] = {}
    for row in rows:
        if row.step == "first":
            firsts.setdefault(row.tool, {}).setdefault(row.size, []).append(row.cpu_seconds)
    lines = []
    for tool, by_size in firsts.items():
        sizes = sorted(by_size)
        for small, large in zip(sizes, sizes[1:]):
            before, after = statistics.median(by_size[small]), statistics.median(by_size[large])
            ratio = f"{after / before:.1f}x" if before else "-"
            lines.append(f"- {tool}, first apply CPU-s {small} -> {large} objects: {before:.1f} -> {after:.1f} ({ratio})")
    return "\n".join(lines)


def summarize(rows: list[Row]) -> str:
    """Median over repeats; the ratio is ours over kubectl's reference for the step."""
    reference = {"first": "kubectl apply", "no change": "kubectl diff", "change 10%": "kubectl apply",
                 "delete 10%": "kubectl apply", "destroy": None}
    groups: dict[tuple[int, str, str], list[Row]] = {}
    for row in rows:
        groups.setdefault((row.size, row.step, row.tool), []).append(row)

    def median(key: tuple[int, str, str], field: str) -> Optional[float]:
        found = groups.get(key)
        return statistics.median(getattr(r, field) for r in found) if found else None

    lines = ["| objects | step | tool | wall s (median) | runs | ratio to kubectl | CPU s | peak RSS MB (tree) | anon MB "
             "| one engine MB (units: largest unit stack) | load at start | exact |",
             "|---:|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
    for (size, step, tool), found in groups.items():
        seconds = statistics.median(r.seconds for r in found)
        ref_tool = reference.get(step)
        ref = median((size, step, ref_tool), "seconds") if ref_tool and found[0].checkpoints else None
        ratio = f"{seconds / ref:.1f}x" if ref else ""
        checks = {r.exact for r in found}
        exact_text = "yes" if checks == {True} else ("" if checks == {None} else "NO")
        loads = "-".join(f"{x:.1f}" for x in sorted({r.load_before for r in found})[:: max(1, len(found) - 1)])
        engine = statistics.median(one_engine_peak(r) for r in found)
        figures = [f"{median((size, step, tool), name):.0f}" for name in ("peak_rss_mb", "peak_anon_mb")] + [f"{engine:.0f}"]
        lines.append(f"| {size} | {step} | {tool} | {seconds:.1f} | {len(found)} | {ratio} | "
                     f"{median((size, step, tool), 'cpu_seconds'):.1f} | {' | '.join(figures)} | {loads} | {exact_text} |")
    return "\n".join(lines)


def summarize_processes(rows: list[Row]) -> str:
    """Per process of our runs: peak RSS MB / anon MB / CPU-s, median over repeats (roles not in PROCESS_COLUMNS: "other")."""
    groups: dict[tuple[int, str, str], list[Row]] = {}
    for row in rows:
        if row.checkpoints:  # ours
            groups.setdefault((row.size, row.step, row.tool), []).append(row)

    def cell(found: list[Row], column: str) -> str:
        def figures(row: Row) -> list[ProcessUse]:
            if column == "other":
                return [use for role, use in row.processes.items() if role not in PROCESS_COLUMNS]
            return [use for role, use in row.processes.items() if role == column]

        mb = statistics.median(sum(use.peak_rss_mb for use in figures(row)) for row in found)
        anon = statistics.median(sum(use.peak_anon_mb for use in figures(row)) for row in found)
        cpu = statistics.median(sum(use.cpu_seconds for use in figures(row)) for row in found)
        return f"{mb:.0f} / {anon:.0f} / {cpu:.1f}"

    lines = ["| objects | step | tool | tree | " + " | ".join(PROCESS_COLUMNS) + " | other |",
             "|---:|---|---|---:|" + "---:|" * (len(PROCESS_COLUMNS) + 1)]
    for (size, step, tool), found in groups.items():
        tree = (f"{statistics.median(r.peak_rss_mb for r in found):.0f} / {statistics.median(r.peak_anon_mb for r in found):.0f}"
                f" / {statistics.median(r.cpu_seconds for r in found):.1f}")
        cells = [cell(found, column) for column in (*PROCESS_COLUMNS, "other")]
        lines.append(f"| {size} | {step} | {tool} | {tree} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="10,100,1000", help="comma-separated object counts (default 10,100,1000)")
    parser.add_argument("--repeat", type=int, default=1, help="full cycles per size (default 1)")
    parser.add_argument("--pulumi-env", action="append", default=[], metavar="NAME=VALUE",
                        help="extra environment for pulumi (to try a variant)")
    parser.add_argument("--pulumi-arg", action="append", default=[], help="extra argument to pulumi up/destroy")
    parser.add_argument("--steps", default="first,no,change,delete",
                        help="steps to run, by first word (default first,no,change,delete); the stack is destroyed after the last")
    parser.add_argument("--skip-kubectl", action="store_true", help="time only pulumi (for trying variants)")
    parser.add_argument("--checkpoints", default="on",
                        help="on, off (PULUMI_SKIP_CHECKPOINTS=true) or on,off: our runs, each on a set of its own")
    parser.add_argument("--layout", default="stack",
                        help="stack (one stack, `pulumi up`), units (unit stacks of ~100 objects by `reconciler once`) "
                             "or stack,units")
    parser.add_argument("--units-parallel", type=int, default=4, help="the units side's units_parallel (default 4)")
    parser.add_argument("--skip-refresh", action="store_true", help="leave out the `pulumi up --refresh` run")
    parser.add_argument("--skip-kubectl-noop", action="store_true", help="leave out the no-op `kubectl apply` run")
    parser.add_argument("--fast-cleanup", action="store_true",
                        help="delete our sets' namespaces and CRD with kubectl instead of `pulumi destroy` (not timed; "
                             "the stacks go with the work folder)")
    parser.add_argument("--event-logs", action="store_true", help="keep the engine's event log of each pulumi run")
    parser.add_argument("--out", type=Path, default=Path("scale-compare.json"), help="where the figures go (JSON)")
    parser.add_argument("--keep", action="store_true", help="keep the work folder (projects, logs)")
    args = parser.parse_args()
    args.pulumi_env = dict(item.split("=", 1) for item in args.pulumi_env)
    args.steps = set(args.steps.split(","))
    args.checkpoints = args.checkpoints.split(",")
    if not args.checkpoints or set(args.checkpoints) - set(SKIP_CHECKPOINTS):
        parser.error(f"--checkpoints takes on, off or on,off, not {','.join(args.checkpoints)}")
    args.layouts = args.layout.split(",")
    if not args.layouts or set(args.layouts) - set(LAYOUTS):
        parser.error(f"--layout takes stack, units or stack,units, not {args.layout}")
    sizes = [int(size) for size in args.sizes.split(",")]

    env = local_environment()
    kubectl = Kubectl(env["KUBECONFIG"])
    run_id = secrets.token_hex(2)
    workdir = Path(tempfile.mkdtemp(prefix="scale-compare-"))
    node = BenchNode(kubectl, f"bench-scale-{run_id}")
    started, load_start = time.time(), load_average()
    print(f"run {run_id}: {os.cpu_count()} cores, load {Path('/proc/loadavg').read_text().strip()}, work folder {workdir}",
          flush=True)
    rows: list[Row] = []

    def save() -> dict:
        """Writes every figure so far, so an interrupted run keeps what it measured."""
        report = {
            "run": run_id,
            "started": time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(started)),
            "minutes": round((time.time() - started) / 60, 1),
            "machine": {"cores": os.cpu_count(), "kernel": platform.release(), "load_at_start": load_start,
                        "load_at_end": load_average()},
            "pulumi_env": args.pulumi_env,
            "checkpoints": args.checkpoints,
            "layouts": args.layouts,
            "units_parallel": args.units_parallel,
            "pulumi_args": args.pulumi_arg,
            "rows": [asdict(r) for r in rows],
        }
        args.out.write_text(json.dumps(report, indent=2) + "\n")
        return report

    def add(row: Row) -> None:
        rows.append(row)
        save()

    # A plain `kill` still tears down what the run made (the finally blocks run).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    node.create()
    try:
        for size in sizes:
            for repeat in range(args.repeat):
                bench_size(size, repeat, args, env, kubectl, node.name, workdir, run_id, add)
    finally:
        node.delete()
        report = save()
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    print()
    print(summarize(rows))
    print()
    print("Per process, peak RSS MB / peak anonymous RSS MB / CPU-s (as last sampled, every 0.1 s):")
    print(summarize_processes(rows))
    print()
    print(cpu_growth(rows))
    print(f"\n{report['minutes']} min; load {load_start:.2f} at start, {report['machine']['load_at_end']:.2f} at end;"
          f" figures in {args.out}")


if __name__ == "__main__":
    main()
