"""The diy (file) backend's stack locks, read before anything is released.

`pulumi cancel` on a diy backend deletes every lock file of the stack without looking at who wrote it, so
a recovery that called it could delete an operator's live update's lock and let two engines write one
state. Here a lock is released only when its owner is provably gone: the pid it names is dead on this
host (or now belongs to a process that started after the lock was taken), or the lock is older than the
configured bound, or (replicas sharing the stacks) its host is a replica's whose heartbeat says the fence
has stopped its CLIs (coordination/membership.py). Lock files are
`<backend>/.pulumi/locks/<org>/<project>/<stack>/<id>.json` holding {"pid", "username", "hostname",
"timestamp"} (pkg/backend/diy/lock.go).
"""

from __future__ import annotations

import json
import os
import socket
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Optional


@dataclass(frozen=True)
class StackLock:
    path: Path
    pid: Optional[int]
    username: str
    hostname: str
    taken_at: Optional[float]

    @property
    def holder(self) -> str:
        since = datetime.fromtimestamp(self.taken_at).isoformat(timespec="seconds") if self.taken_at else "an unknown time"
        return f"{self.username}@{self.hostname} (pid {self.pid}) since {since}"


@dataclass(frozen=True)
class ReplicasOnHost:
    """The replicas whose heartbeat Leases name a lock's host."""

    live: tuple[str, ...]  # their CLIs may be running
    fenced: tuple[str, ...]  # heartbeats stale long enough that the fence has stopped their CLIs

    def describe(self) -> str:
        return f"replica {', '.join(self.live)}, alive" if self.live else f"replica {', '.join(self.fenced)}, fenced"


def backend_folder(backend_url: str) -> Optional[Path]:
    """The folder of a file:// backend; None for other backends, whose locks are not read here."""
    if not backend_url.startswith("file://"):
        return None
    return Path(backend_url[len("file://"):].split("?", 1)[0])


def stack_locks(backend_url: str, project: str, stack: str) -> list[StackLock]:
    folder = backend_folder(backend_url)
    if folder is None:
        return []
    stack_name = stack.rsplit("/", 1)[-1]
    locks_root = folder / ".pulumi" / "locks"
    # Project-scoped layout first (organization/<project>/<stack>), then the legacy one (<stack>).
    candidates = list(locks_root.glob(f"*/{project}/{stack_name}/*.json")) + list(locks_root.glob(f"{stack_name}/*.json"))
    return [_read_lock(path) for path in candidates if path.is_file()]


def _read_lock(path: Path) -> StackLock:
    try:
        content = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        content = {}
    pid = content.get("pid")
    return StackLock(
        path=path,
        pid=pid if isinstance(pid, int) else None,
        username=str(content.get("username") or "unknown"),
        hostname=str(content.get("hostname") or "unknown"),
        taken_at=_timestamp(content.get("timestamp")) or _mtime(path),
    )


def _timestamp(value: object) -> Optional[float]:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def _mtime(path: Path) -> Optional[float]:
    try:
        return path.stat().st_mtime
    except OSError:
        return None


def on_this_host(lock: StackLock) -> bool:
    return lock.hostname == socket.gethostname()


def owner_is_gone(lock: StackLock, now: float, stale_after: float, replicas: Optional[ReplicasOnHost] = None) -> bool:
    """`replicas`: the replicas on the lock's host (another host), when the stacks are shared through Leases."""
    if lock.taken_at is not None and now - lock.taken_at > stale_after:
        return True
    if not on_this_host(lock):
        # Another machine's process: gone when every replica there is fenced; else only its age can tell.
        return replicas is not None and bool(replicas.fenced) and not replicas.live
    if lock.pid is None:
        return False
    started = _process_start_time(lock.pid)
    if started is None:
        return True
    # The pid was reused by a process that started after the lock was written.
    return lock.taken_at is not None and started > lock.taken_at + 1.0


def _process_start_time(pid: int) -> Optional[float]:
    """When the process started (seconds since the epoch), None when there is no such process."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # Field 22 (starttime, clock ticks after boot) counted after the command name, which may hold spaces.
    fields = stat[stat.rindex(")") + 2:].split()
    if fields[0] == "Z":
        return None  # a zombie: dead, waiting to be reaped
    ticks = int(fields[19])
    boot = next(int(line.split()[1]) for line in Path("/proc/stat").read_text().splitlines() if line.startswith("btime"))
    return boot + ticks / os.sysconf("SC_CLK_TCK")
