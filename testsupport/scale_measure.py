"""Runs a command and measures its wall time and the peak memory of its whole process tree, in total and per process.

Peak memory is the largest sum of VmRSS over the command and all its
descendants (for `pulumi up`: the CLI, the language host, the Python program
and the provider plugins), sampled from /proc every POLL_SECONDS. Pages shared
between processes are counted once per process, so the sum is an upper bound;
a process living less than one interval can be missed. CPU time (user +
system, from the kernel's accounting of waited-for children) says how much
of the machine a command used, whatever else ran at the same time.

VmRSS also counts the pages of a process's executable it has read: clean
file pages the kernel can drop and re-read, about 100 MB for each of the
Pulumi CLI and the kubernetes provider before they do any work. So the
anonymous part (RssAnon: heap, stacks; what the process itself allocated) is
measured too, as `peak_anon_mb`.

A command that runs several engines (the reconciler's `once`, one `pulumi`
per stack, several at a time) also gets the peak of its largest single
engine: the most RSS one ENGINE_ROLE process and its descendants (its
plugins, language host and program) held at one moment (`peak_engine_mb`),
and that peak for each stack an engine ran on (its `--stack`, `engine_peaks`).

Per process (`Measurement.processes`, keyed by what the process is: see
process_role): the peak of that role's RSS (and RssAnon) summed over its
processes, and the CPU time each process had used when last sampled (so up to
POLL_SECONDS of a process's last work, and processes shorter than that, are
not counted there; the total `cpu_seconds` counts them).
"""

from __future__ import annotations

import os
import resource
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

POLL_SECONDS = 0.1
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
# What each process of a `pulumi up` is, by its executable (or, for Python, its script).
ROLES = {
    "pulumi": "CLI",
    "pulumi-language-python": "language host",
    "python pulumi-language-python-exec": "program",
    "pulumi-resource-kubernetes": "kubernetes",
    "pulumi-resource-docker-build": "docker-build",
}

# The process whose subtree is one engine run: the `pulumi` CLI with its plugins, language host and program.
ENGINE_ROLE = "CLI"


@dataclass
class ProcessUse:
    """What the processes of one role used: the peak of their summed RSS, their CPU time, how many there were."""

    peak_rss_mb: float
    cpu_seconds: float
    processes: int
    peak_anon_mb: float = 0.0

    def merged(self, other: "ProcessUse") -> "ProcessUse":
        return ProcessUse(max(self.peak_rss_mb, other.peak_rss_mb), self.cpu_seconds + other.cpu_seconds,
                          self.processes + other.processes, max(self.peak_anon_mb, other.peak_anon_mb))


@dataclass
class Measurement:
    seconds: float
    peak_rss_mb: float
    returncode: int
    output: str
    load_before: float  # 1-minute load average when the command started
    cpu_seconds: float = 0.0  # user + system time of the command and the descendants it waited for
    processes: dict[str, ProcessUse] = field(default_factory=dict)  # by role (process_role)
    peak_anon_mb: float = 0.0  # the largest sum of RssAnon over the tree
    peak_engine_mb: float = 0.0  # the largest RSS of one ENGINE_ROLE process with its descendants
    peak_engine_anon_mb: float = 0.0  # the same, RssAnon
    engine_peaks: dict[str, tuple[float, float]] = field(default_factory=dict)  # --stack to (RSS, RssAnon) MB

    def merged(self, other: "Measurement") -> "Measurement":
        """Two commands run one after the other, as one step."""
        processes = dict(self.processes)
        for role, use in other.processes.items():
            processes[role] = processes[role].merged(use) if role in processes else use
        return Measurement(
            self.seconds + other.seconds,
            max(self.peak_rss_mb, other.peak_rss_mb),
            self.returncode or other.returncode,
            self.output + other.output,
            self.load_before,
            self.cpu_seconds + other.cpu_seconds,
            processes,
            max(self.peak_anon_mb, other.peak_anon_mb),
            max(self.peak_engine_mb, other.peak_engine_mb),
            max(self.peak_engine_anon_mb, other.peak_engine_anon_mb),
            _larger_peaks(self.engine_peaks, other.engine_peaks),
        )


def _larger_peaks(first: dict[str, tuple[float, float]], second: dict[str, tuple[float, float]]) -> dict[str, tuple[float, float]]:
    return {stack: max(first.get(stack, (0.0, 0.0)), second.get(stack, (0.0, 0.0))) for stack in {**first, **second}}


def _stack_of(argv: list[str]) -> str:
    """The stack a `pulumi ... --stack NAME` (or --stack=NAME) command runs on; "" when it names none."""
    for index, arg in enumerate(argv):
        if arg == "--stack" and index + 1 < len(argv):
            return argv[index + 1]
        if arg.startswith("--stack="):
            return arg.split("=", 1)[1]
    return ""


def load_average() -> float:
    return float(Path("/proc/loadavg").read_text().split()[0])


def process_role(argv: list[str]) -> str:
    """A short name for what a process is, from its command line: ROLES' name when known, else the executable's.

    For a Python interpreter, the script it runs (`python -u .../pulumi-language-python-exec ...` is the program).
    """
    if not argv:
        return "?"
    name = os.path.basename(argv[0])
    if name.startswith("python"):
        rest = iter(argv[1:])
        for arg in rest:
            if arg in ("-c", "-m"):
                name = f"python {arg} {next(rest, '')}" if arg == "-m" else "python -c"
                break
            if not arg.startswith("-"):
                name = f"python {os.path.basename(arg)}"
                break
    return ROLES.get(name, name)


@dataclass(frozen=True)
class _Stat:
    ppid: int
    cpu_ticks: int  # utime + stime
    start_ticks: int  # since boot: with the pid, names one process even if its pid is reused


def _parse_stat(text: str) -> _Stat:
    # The command name (field 2) may hold spaces and parentheses: split after its last ')'.
    fields = text[text.rindex(")") + 2 :].split()
    # fields[0] is field 3 (state): ppid is field 4, utime 14, stime 15, starttime 22.
    return _Stat(int(fields[1]), int(fields[11]) + int(fields[12]), int(fields[19]))


def _process_table() -> dict[int, _Stat]:
    table: dict[int, _Stat] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            table[int(entry.name)] = _parse_stat(Path(entry.path, "stat").read_text())
        except (OSError, ValueError, IndexError):
            continue
    return table


def _memory_kb(pid: int) -> tuple[int, int]:
    """(VmRSS, RssAnon) of a process; zeros once it is gone."""
    rss = anon = 0
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1])
            elif line.startswith("RssAnon:"):
                anon = int(line.split()[1])
    except OSError:
        pass
    return rss, anon


def _argv(pid: int) -> list[str]:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0")[:-1]
    except OSError:
        return []


class TreeSampler:
    """Samples a process tree: its total RSS, each role's RSS, and each process's CPU time so far."""

    def __init__(self, root: int) -> None:
        self.root = root
        self.peak_kb = self.peak_anon_kb = 0
        self.peak_engine_kb = self.peak_engine_anon_kb = 0
        self.engine_peak_kb: dict[str, tuple[int, int]] = {}  # by the engine's stack
        self._stacks: dict[tuple[int, int], str] = {}  # engine process to its stack
        self.role_peak_kb: dict[str, int] = {}
        self.role_peak_anon_kb: dict[str, int] = {}
        # (pid, start) to role: read at every sample, as a forked child becomes what it executes.
        self._roles: dict[tuple[int, int], str] = {}
        self._cpu_ticks: dict[tuple[int, int], int] = {}  # the last CPU time seen of each process

    def sample(self) -> None:
        table = _process_table()
        children: dict[int, list[int]] = {}
        for pid, parent in table.items():
            children.setdefault(parent.ppid, []).append(pid)
        total = total_anon = 0
        by_role: dict[str, int] = {}
        anon_by_role: dict[str, int] = {}
        subtree: dict[int, list[int]] = {}  # pid to the [RSS, RssAnon] of it and its descendants
        visited: list[int] = []  # parents before their children
        pending = [self.root]
        while pending:
            pid = pending.pop()
            pending.extend(children.get(pid, []))
            if pid not in table:
                continue
            visited.append(pid)
            key = (pid, table[pid].start_ticks)
            argv = _argv(pid)
            if argv or key not in self._roles:  # an exited, unreaped process has no command line: keep its role
                self._roles[key] = process_role(argv)
                self._stacks[key] = _stack_of(argv)
            role = self._roles[key]
            rss, anon = _memory_kb(pid)
            total, total_anon = total + rss, total_anon + anon
            by_role[role] = by_role.get(role, 0) + rss
            anon_by_role[role] = anon_by_role.get(role, 0) + anon
            self._cpu_ticks[key] = table[pid].cpu_ticks
            subtree[pid] = [rss, anon]
        self.peak_kb, self.peak_anon_kb = max(self.peak_kb, total), max(self.peak_anon_kb, total_anon)
        for pid in reversed(visited):  # children first: each adds its subtree to its parent's
            ppid = table[pid].ppid
            if pid != self.root and ppid in subtree:
                subtree[ppid][0] += subtree[pid][0]
                subtree[ppid][1] += subtree[pid][1]
        for pid in visited:
            key = (pid, table[pid].start_ticks)
            if self._roles[key] == ENGINE_ROLE:
                rss, anon = subtree[pid]
                self.peak_engine_kb, self.peak_engine_anon_kb = max(self.peak_engine_kb, rss), max(self.peak_engine_anon_kb, anon)
                stack = self._stacks[key]
                before = self.engine_peak_kb.get(stack, (0, 0))
                self.engine_peak_kb[stack] = (max(before[0], rss), max(before[1], anon))
        for role, rss in by_role.items():
            self.role_peak_kb[role] = max(self.role_peak_kb.get(role, 0), rss)
            self.role_peak_anon_kb[role] = max(self.role_peak_anon_kb.get(role, 0), anon_by_role[role])

    def processes(self) -> dict[str, ProcessUse]:
        uses: dict[str, ProcessUse] = {}
        for key, role in self._roles.items():
            seen = ProcessUse(0.0, self._cpu_ticks.get(key, 0) / CLOCK_TICKS, 1)
            uses[role] = uses[role].merged(seen) if role in uses else seen
        return {role: ProcessUse(self.role_peak_kb.get(role, 0) / 1024, round(use.cpu_seconds, 2), use.processes,
                                 self.role_peak_anon_kb.get(role, 0) / 1024)
                for role, use in sorted(uses.items(), key=lambda item: -self.role_peak_kb.get(item[0], 0))}


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_measured(
    argv: list[str], env: dict[str, str], cwd: Optional[Path] = None, timeout: float = 3600, log: Optional[Path] = None
) -> Measurement:
    """Runs argv to completion; its output (stdout and stderr) goes to `log` and is returned."""
    log = log or Path(os.devnull)
    load, cpu_before = load_average(), _children_cpu()
    with open(log, "w") as out:
        started = time.monotonic()
        process = subprocess.Popen(argv, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT)
        sampler = TreeSampler(process.pid)
        while process.poll() is None:
            sampler.sample()
            if time.monotonic() - started > timeout:
                process.kill()
                process.wait()
                raise TimeoutError(f"{' '.join(argv[:3])} ran over {timeout:.0f}s; its output is in {log}")
            time.sleep(POLL_SECONDS)
        seconds = time.monotonic() - started
    output = "" if log == Path(os.devnull) else log.read_text(errors="replace")
    return Measurement(seconds, sampler.peak_kb / 1024, process.returncode, output, load, _children_cpu() - cpu_before,
                       sampler.processes(), sampler.peak_anon_kb / 1024, sampler.peak_engine_kb / 1024,
                       sampler.peak_engine_anon_kb / 1024,
                       {stack: (rss / 1024, anon / 1024) for stack, (rss, anon) in sampler.engine_peak_kb.items()})
