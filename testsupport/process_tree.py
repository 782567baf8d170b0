"""A process's children and descendants, read from /proc (what a test kills, or checks is gone)."""

from __future__ import annotations

import collections
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
