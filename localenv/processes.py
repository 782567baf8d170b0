"""Starting and stopping the environment's background processes, by pid.

A pid file records the pid together with the process's start time and the
boot id: a pid alone can be reused by an unrelated program after a crash,
and `down` must never signal a process it did not start.

Each process starts in a session of its own. When it dies without cleaning
up (kill -9), its children (dockerd's containerd) remain in that session;
the session id cannot be reused while they live, so they are found and
stopped by it.
"""

import json
import os
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class PidRecord:
    pid: int
    start_time: int
    boot_id: str


def boot_id() -> str:
    return Path("/proc/sys/kernel/random/boot_id").read_text().strip()


def _stat_fields(pid: int) -> list[str] | None:
    """Fields of /proc/PID/stat after the command name, or None if gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    # The command name is in parentheses and may itself hold spaces.
    return stat[stat.rindex(")") + 2 :].split()


def start_time(pid: int) -> int | None:
    """When PID started (clock ticks since boot); None if gone or a zombie."""
    fields = _stat_fields(pid)
    if fields is None or fields[0] in ("Z", "X"):
        return None
    return int(fields[19])


def session_members(session_id: int) -> list[int]:
    """Live processes in session SESSION_ID."""
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        fields = _stat_fields(int(entry.name))
        if fields and fields[0] not in ("Z", "X") and int(fields[3]) == session_id:
            members.append(int(entry.name))
    return members


def read_pid_file(pid_file: Path) -> PidRecord | None:
    try:
        data = json.loads(pid_file.read_text())
        return PidRecord(int(data["pid"]), int(data["start_time"]), str(data["boot_id"]))
    except (FileNotFoundError, ValueError, KeyError, TypeError):
        return None


def write_pid_file(pid_file: Path, pid: int) -> None:
    started = start_time(pid)
    if started is None:
        return
    pid_file.parent.mkdir(parents=True, exist_ok=True)
    record = {"pid": pid, "start_time": started, "boot_id": boot_id()}
    tmp = pid_file.with_suffix(".tmp")
    tmp.write_text(json.dumps(record) + "\n")
    tmp.replace(pid_file)


def is_ours(record: PidRecord) -> bool:
    """True while the recorded process itself still runs."""
    return record.boot_id == boot_id() and start_time(record.pid) == record.start_time


def running_pid(pid_file: Path) -> int | None:
    """The pid recorded in PID_FILE if that very process still runs.

    A stale pid file (process dead, or its pid now another program's) is
    removed, after stopping any children the dead process left behind.
    """
    record = read_pid_file(pid_file)
    if record is None:
        pid_file.unlink(missing_ok=True)
        return None
    if is_ours(record):
        return record.pid
    _stop_leftovers(record)
    pid_file.unlink(missing_ok=True)
    return None


def _stop_leftovers(record: PidRecord) -> None:
    # If the pid is alive it belongs to someone else now, and so does any
    # session with that id: the kernel reuses a pid only once its session is empty.
    if record.boot_id != boot_id() or start_time(record.pid) is not None:
        return
    _terminate(session_members(record.pid), timeout=5)


def start(argv: list[str], pid_file: Path, log_file: Path, env: dict | None = None, umask: int = -1) -> int:
    """Start ARGV in the background, output appended to LOG_FILE; returns its pid.

    UMASK, unless -1 (keep ours), is the process's own.
    """
    log_file.parent.mkdir(parents=True, exist_ok=True)
    with log_file.open("ab") as log:
        stamp = time.strftime("%Y-%m-%d %H:%M:%S")
        log.write(f"\n=== {stamp} started: {' '.join(argv)}\n".encode())
        log.flush()
        process = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env={**os.environ, **(env or {})},
            umask=umask,
        )
    write_pid_file(pid_file, process.pid)
    return process.pid


def stop(pid_file: Path, timeout: float = 20) -> bool:
    """Stop the process recorded in PID_FILE and its session; False if none ran."""
    record = read_pid_file(pid_file)
    if record is None or not is_ours(record):
        running_pid(pid_file)  # cleans a stale file and any leftovers
        return False
    # The leader first, so it can stop its own children in order.
    _terminate([record.pid], timeout)
    _terminate(session_members(record.pid), timeout=min(timeout, 5))
    pid_file.unlink(missing_ok=True)
    return True


def _terminate(pids: list[int], timeout: float) -> None:
    """SIGTERM PIDS, then SIGKILL whichever still run after TIMEOUT seconds."""
    # Compare start times so a pid reused meanwhile is never signalled.
    started = {pid: start_time(pid) for pid in pids}

    def alive() -> list[int]:
        return [p for p, t in started.items() if t is not None and start_time(p) == t]

    for pid in alive():
        _signal(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while alive() and time.monotonic() < deadline:
        time.sleep(0.1)
    for pid in alive():
        _signal(pid, signal.SIGKILL)
    deadline = time.monotonic() + 5
    while alive() and time.monotonic() < deadline:
        time.sleep(0.1)


def _signal(pid: int, sig: int) -> None:
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        pass


def log_tail(log_file: Path, lines: int = 20) -> str:
    try:
        text = log_file.read_text(errors="replace")
    except FileNotFoundError:
        return "(no log written)"
    return "\n".join(text.splitlines()[-lines:])
