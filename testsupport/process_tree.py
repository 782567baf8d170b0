"""A process's children and descendants, read from /proc (what a test kills, or checks is gone)."""

from __future__ import annotations

import collections
import os
import signal
from pathlib import Path


def _children_by_parent() -> dict[int, list[int]]:
    parents: dict[int, list[int]] = collections.defaultdict(list)
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue  # ended while the list was read
            parents[int(stat[stat.rindex(")") + 2:].split()[1])].append(int(entry.name))
    return parents


def children(pid: int) -> list[int]:
    return _children_by_parent().get(pid, [])


def descendants(pid: int) -> list[int]:
    parents = _children_by_parent()
    found, todo = [], [pid]
    while todo:
        below = parents.get(todo.pop(), [])
        found += below
        todo += below
    return found


def session_members(session: int) -> list[int]:
    """The processes of a session: a `pulumi` the reconciler starts leads one, and each of its plugins leads a
    process group of its own inside it."""
    members = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat[stat.rindex(")") + 2:].split()[3]) == session:
                members.append(int(entry.name))
    return members


def kill_tree(pid: int) -> None:
    """SIGKILL to a process and everything below it at once, as when its pod or node goes away (a process group
    would miss the engines: each runs in a session of its own)."""
    for target in [pid, *descendants(pid)]:
        try:
            os.kill(target, signal.SIGKILL)
        except ProcessLookupError:
            pass


def pulumi_update_below(pid: int) -> int:
    """The `pulumi up` a reconciler process runs (0 while it runs none)."""
    for child in descendants(pid):
        try:
            argv = (Path("/proc") / str(child) / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if os.path.basename(argv[0]) == b"pulumi" and b"up" in argv:
            return child
    return 0
