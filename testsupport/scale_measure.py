"""Runs a command and measures its wall time and the peak memory of its whole process tree.

Peak memory is the largest sum of VmRSS over the command and all its
descendants (for `pulumi up`: the CLI, the language host, the Python program
and the provider plugins), sampled from /proc every POLL_SECONDS. Pages shared
between processes are counted once per process, so the sum is an upper bound;
a process living less than one interval can be missed. CPU time (user +
system, from the kernel's accounting of waited-for children) says how much
of the machine a command used, whatever else ran at the same time.
"""

from __future__ import annotations

import os
import resource
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

POLL_SECONDS = 0.1


@dataclass
class Measurement:
    seconds: float
    peak_rss_mb: float
    returncode: int
    output: str
    load_before: float  # 1-minute load average when the command started
    cpu_seconds: float = 0.0  # user + system time of the command and the descendants it waited for

    def merged(self, other: "Measurement") -> "Measurement":
        """Two commands run one after the other, as one step."""
        return Measurement(
            self.seconds + other.seconds,
            max(self.peak_rss_mb, other.peak_rss_mb),
            self.returncode or other.returncode,
            self.output + other.output,
            self.load_before,
            self.cpu_seconds + other.cpu_seconds,
        )


def load_average() -> float:
    return float(Path("/proc/loadavg").read_text().split()[0])


def _children() -> dict[int, list[int]]:
    children: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(entry.path, "stat").read_text()
        except OSError:
            continue
        # The command name (field 2) may hold spaces and parentheses: split after its last ')'.
        ppid = int(stat[stat.rindex(")") + 2 :].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    return children


def _rss_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def tree_rss_kb(root: int) -> int:
    children = _children()
    total, pending = 0, [root]
    while pending:
        pid = pending.pop()
        total += _rss_kb(pid)
        pending.extend(children.get(pid, []))
    return total


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
        peak = 0
        while process.poll() is None:
            peak = max(peak, tree_rss_kb(process.pid))
            if time.monotonic() - started > timeout:
                process.kill()
                process.wait()
                raise TimeoutError(f"{' '.join(argv[:3])} ran over {timeout:.0f}s; its output is in {log}")
            time.sleep(POLL_SECONDS)
        seconds = time.monotonic() - started
    output = "" if log == Path(os.devnull) else log.read_text(errors="replace")
    return Measurement(seconds, peak / 1024, process.returncode, output, load, _children_cpu() - cpu_before)
