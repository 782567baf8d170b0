"""The diy (file) backend's stack locks, read before anything is released.

`pulumi cancel` on a diy backend deletes every lock file of the stack without looking at who wrote it, so
a recovery that called it could delete an operator's live update's lock and let two engines write one
state. Here a lock is released only when its owner is provably gone: the pid it names is dead here (or
now belongs to a process that started after the lock was taken), or the lock is older than the configured
bound, or (replicas sharing the stacks) the replica that wrote it is one whose heartbeat says the fence
has stopped its CLIs (coordination/membership.py). Lock files are
`<backend>/.pulumi/locks/<org>/<project>/<stack>/<id>.json` holding {"pid", "username", "hostname",
"timestamp"} (pkg/backend/diy/lock.go).

A pid means something only in the pid namespace that wrote it, and a host name does not say which one:
pods on a node's network (hostNetwork) share the node's host name, each in a pid namespace of its own.
So a lock's pid is judged only when the lock names this host *and* the user this process's CLIs write
(`LockWriter`): each replica in a pod writes its own (start_replica.py sets USER to the pod's name), so a
pod never judges the machine's or another pod's pid, nor the machine a pod's. Every other lock counts as
another host's.
"""

from __future__ import annotations

import json
import os
import pwd
import socket
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Optional

# The initial namespaces' inode numbers (PROC_UTS_INIT_INO, PROC_PID_INIT_INO in the kernel's proc_ns.h).
_HOST_UTS = "uts:[4026531838]"
_HOST_PID = "pid:[4026531836]"


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


@dataclass(frozen=True)
class LockWriter:
    """What this process's `pulumi` writes in a lock, and whether the pids of such locks can be judged here."""

    hostname: str
    username: str
    # The user name is this process's own (USER, the uid having no account: a replica's pod name), or this pid
    # namespace is the one the host name belongs to: a lock with both names was then written in this namespace.
    judges_pids: bool

    @classmethod
    def of_this_process(cls) -> "LockWriter":
        own_name, username = _pulumi_username()
        return cls(socket.gethostname(), username, (own_name and bool(username)) or not _pid_namespace_hidden_from_host())

    def wrote(self, lock: StackLock) -> bool:
        """Whether LOCK's pid is judged here: written by a process of this pid namespace (or an earlier, dead one)."""
        return self.judges_pids and (lock.hostname, lock.username) == (self.hostname, self.username)


def _pulumi_username() -> tuple[bool, str]:
    """The user name Pulumi writes (Go's os/user without cgo: the account of the uid, else $USER), and whether it
    came from $USER."""
    try:
        return False, pwd.getpwuid(os.getuid()).pw_name
    except KeyError:
        return True, os.environ.get("USER", "")


def _pid_namespace_hidden_from_host() -> bool:
    """The host's UTS namespace (its host name) in a pid namespace of our own: a pod with hostNetwork and
    without hostPID. Pids its host name's other processes write mean nothing here."""
    try:
        uts, pid = os.readlink("/proc/self/ns/uts"), os.readlink("/proc/self/ns/pid")
    except OSError:
        return True  # cannot tell: judge no pid
    return uts == _HOST_UTS and pid != _HOST_PID


def holder_description(lock: StackLock, replicas: Optional[ReplicasOnHost], here: LockWriter) -> str:
    """Who holds LOCK, with what the heartbeats say of it when they are asked (`replicas`)."""
    if replicas is None:
        return lock.holder
    if lock.hostname != here.hostname:
        return f"{lock.holder} ({replicas.describe()})"
    state = "alive" if lock.username in replicas.live else "fenced" if lock.username in replicas.fenced else None
    return f"{lock.holder} ({f'replica {lock.username}, {state}' if state else 'not a replica: only its age releases it'})"


def owner_is_gone(lock: StackLock, now: float, stale_after: float, replicas: Optional[ReplicasOnHost] = None,
                  here: Optional[LockWriter] = None) -> bool:
    """`replicas`: the replicas on the lock's host, when the stacks are shared through Leases and the pid is
    not judged `here` (this process, by default)."""
    if lock.taken_at is not None and now - lock.taken_at > stale_after:
        return True
    here = here or LockWriter.of_this_process()
    if not here.wrote(lock):
        if replicas is None:
            return False  # only its age can tell
        if lock.hostname == here.hostname:
            # This host's other pid namespaces (pods, the machine): gone only when the replica its user names
            # (start_replica.py: the pod's name) is fenced; the machine's own engine has no heartbeat.
            return lock.username in replicas.fenced and lock.username not in replicas.live
        # Another machine's process: gone when every replica there is fenced.
        return bool(replicas.fenced) and not replicas.live
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
