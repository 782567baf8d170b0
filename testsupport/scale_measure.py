"""Runs a command and measures its wall time and the peak memory of its whole process tree, in total and per process.

Peak memory is the largest sum of VmRSS over the command and all its
descendants (for `pulumi up`: the CLI, the language host, the Python program
and the provider plugins), sampled from /proc every POLL_SECONDS. Pages shared
between processes are counted once per process, so the sum is an upper bound;
a process living less than one interval can be missed. CPU time (user +
system, from the kernel's accounting of waited-for children) says how much
of the machine a command used, whatever else ran at the same time.

Per process (`Measurement.processes`, keyed by what the process is: see
process_role): the peak of that role's RSS summed over its processes, and the
CPU time each process had used when last sampled (so up to POLL_SECONDS of a
process's last work, and processes shorter than that, are not counted there;
the total `cpu_seconds` counts them).
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


@dataclass
class ProcessUse:
    """What the processes of one role used: the peak of their summed RSS, their CPU time, how many there were."""

    peak_rss_mb: float
    cpu_seconds: float
    processes: int

    def merged(self, other: "ProcessUse") -> "ProcessUse":
        return ProcessUse(max(self.peak_rss_mb, other.peak_rss_mb), self.cpu_seconds + other.cpu_seconds,
                          self.processes + other.processes)


@dataclass
class Measurement:
    seconds: float
    peak_rss_mb: float
    returncode: int
    output: str
    load_before: float  # 1-minute load average when the command started
    cpu_seconds: float = 0.0  # user + system time of the command and the descendants it waited for
    processes: dict[str, ProcessUse] = field(default_factory=dict)  # by role (process_role)

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
        )


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


def _rss_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def _argv(pid: int) -> list[str]:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0")[:-1]
    except OSError:
        return []


class TreeSampler:
    """Samples a process tree: its total RSS, each role's RSS, and each process's CPU time so far."""

    def __init__(self, root: int) -> None:
        self.root = root
        self.peak_kb = 0
        self.role_peak_kb: dict[str, int] = {}
        # (pid, start) to role: read at every sample, as a forked child becomes what it executes.
        self._roles: dict[tuple[int, int], str] = {}
        self._cpu_ticks: dict[tuple[int, int], int] = {}  # the last CPU time seen of each process

    def sample(self) -> None:
        table = _process_table()
        children: dict[int, list[int]] = {}
        for pid, parent in table.items():
            children.setdefault(parent.ppid, []).append(pid)
        total, by_role, pending = 0, dict.fromkeys(self.role_peak_kb, 0), [self.root]
        while pending:
            pid = pending.pop()
            pending.extend(children.get(pid, []))
            if pid not in table:
                continue
            key = (pid, table[pid].start_ticks)
            role = self._roles[key] = process_role(_argv(pid))
            rss = _rss_kb(pid)
            total += rss
            by_role[role] = by_role.get(role, 0) + rss
            self._cpu_ticks[key] = table[pid].cpu_ticks
        self.peak_kb = max(self.peak_kb, total)
        for role, rss in by_role.items():
            self.role_peak_kb[role] = max(self.role_peak_kb.get(role, 0), rss)

    def processes(self) -> dict[str, ProcessUse]:
        uses: dict[str, ProcessUse] = {}
        for key, role in self._roles.items():
            seen = ProcessUse(0.0, self._cpu_ticks.get(key, 0) / CLOCK_TICKS, 1)
            uses[role] = uses[role].merged(seen) if role in uses else seen
        return {role: ProcessUse(self.role_peak_kb.get(role, 0) / 1024, round(use.cpu_seconds, 2), use.processes)
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
                       sampler.processes())
