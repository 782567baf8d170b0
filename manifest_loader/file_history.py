"""The commit that last changed each manifest file, so an object is stamped with its own history.

Stamping every object with the deployed head would make each commit update
every object; the last commit of the object's file changes only when the file
does, so a commit touches exactly the objects it changed.
"""

from __future__ import annotations

from typing import Iterable

import git


def last_changing_commits(repo: git.Repo, head: str, paths: Iterable[str]) -> dict[str, str]:
    """Maps each repo-relative path to the newest commit (at or before head) that changed it.

    One `git log` walk, newest first, stopped as soon as every path is found.
    """
    wanted = set(paths)
    found: dict[str, str] = {}
    if not wanted:
        return found
    process = repo.git.log(
        "--format=%x00%H", "--name-only", "--no-renames", "--no-merges", head, "--", *sorted(wanted),
        as_process=True,
    )
    try:
        current = ""
        for raw in process.stdout:
            line = raw.decode("utf-8", "surrogateescape").rstrip("\n")
            if line.startswith("\0"):
                current = line[1:]
            elif line in wanted and line not in found:
                found[line] = current
                if len(found) == len(wanted):
                    break
    finally:
        # Stopping the walk early kills git; its exit status then says nothing.
        process.proc.kill()
        process.proc.wait()
    # A file only ever changed by merge commits: fall back to the head itself.
    return {path: found.get(path, head) for path in wanted}
