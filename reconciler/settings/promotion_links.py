"""The config's promotion links: each `promote_from` names another stack of the same repository, and no chain loops.

Each stack has at most one upstream, so the links form chains (dev -> staging -> prod) and fan-outs (one
upstream, many downstreams); a chain that comes back to a stack it passed would wait for itself forever.
"""

from __future__ import annotations

import difflib
from typing import Sequence

from .stack_section import StackSection


def promotion_problems(entries: Sequence[StackSection]) -> list[str]:
    """Every broken link, each naming the stack and what to write instead; then every cycle, once."""
    by_name = {entry.name: entry for entry in entries}
    problems = [problem for entry in entries if (problem := _link_problem(entry, by_name))]
    return problems + [f"stacks: promote_from makes a cycle, {' -> '.join(cycle)}; remove promote_from from one of them"
                       for cycle in _cycles(by_name)]


def _link_problem(entry: StackSection, by_name: dict[str, StackSection]) -> str:
    upstream = entry.promote_from
    where = f"stacks ({entry.name}): promote_from"
    if upstream is None:
        return ""
    if upstream == entry.name:
        return f"{where}: a stack cannot promote from itself; name the stack its commits come from, or remove promote_from"
    if upstream not in by_name:
        close = difflib.get_close_matches(upstream, list(by_name), n=1)
        hint = f"did you mean {close[0]!r}?" if close else f"the stacks are {', '.join(sorted(by_name))}"
        return f"{where}: {upstream!r} is not a stack of this file; {hint}"
    if by_name[upstream].repo.url != entry.repo.url:
        return (f"{where}: {upstream!r} tracks another repository ({by_name[upstream].repo.url}, this stack "
                f"{entry.repo.url}); promotion compares commits of one repository, so promote from a stack of the same one")
    return ""


def _cycles(by_name: dict[str, StackSection]) -> list[list[str]]:
    """Each cycle of two or more stacks, from its first name in sorted order (a stack naming itself is told apart)."""
    found: list[list[str]] = []
    for start in sorted(by_name):
        path = [start]
        upstream = by_name[start].promote_from
        while upstream in by_name and upstream not in path:
            path.append(upstream)
            upstream = by_name[upstream].promote_from
        if upstream == start and len(path) > 1 and start == min(path):
            found.append([*path, start])
    return found
