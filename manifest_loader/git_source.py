"""The manifests as Git holds them: the blobs tracked at HEAD under one folder, and the work tree's changes there.

Files are read from the HEAD commit's blobs, never from the work tree: what is
deployed is exactly what is committed, so the commit hash names a deployment.
Untracked and ignored files are therefore never read; the work tree is only
consulted to report uncommitted changes. Tracked symlinks are refused, because
a symlink's blob is just a target path, and following it could read outside the
commit or the repository. Submodules are not read: their files are not tracked
by this repository.
"""

from __future__ import annotations

import os
import posixpath
from dataclasses import dataclass
from pathlib import Path
from typing import Union

import git

from .errors import ManifestError, ManifestProblem

YAML_SUFFIXES = (".yaml", ".yml")
_SYMLINK_MODE = 0o120000
_CHANGE_STATES = {"M": "modified", "T": "type changed", "A": "added", "D": "deleted"}


@dataclass(frozen=True)
class ManifestFolder:
    repo: git.Repo
    commit: str  # 40-hex HEAD
    path: str  # repo-relative posix path, "" for the repository root
    tree: git.Tree  # the folder in the HEAD commit


def open_repository(repo_dir: Union[str, os.PathLike]) -> git.Repo:
    """The repository with a work tree and at least one commit that contains repo_dir; close it when done."""
    try:
        repo = git.Repo(repo_dir, search_parent_directories=True)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        raise _fatal(
            str(repo_dir), "is not inside a Git work tree", "Pass a path inside the repository that tracks the manifests."
        ) from None
    if repo.bare or repo.working_tree_dir is None:
        repo.close()
        raise _bare_repository(repo_dir)
    if not repo.head.is_valid():
        repo.close()
        raise _fatal(str(repo.working_tree_dir), "the repository has no commit yet", "Commit the manifests first.")
    return repo


def find_manifest_folder(
    repo: git.Repo, repo_dir: Union[str, os.PathLike], manifests_dir: Union[str, os.PathLike]
) -> ManifestFolder:
    """The manifests folder in the HEAD commit; manifests_dir is absolute or relative to repo_dir."""
    given = Path(repo_dir, manifests_dir)
    if repo.working_tree_dir is None:
        raise _bare_repository(repo_dir)
    work_tree = Path(os.path.realpath(repo.working_tree_dir))
    try:
        relative = Path(os.path.realpath(given)).relative_to(work_tree).as_posix()
    except ValueError:
        raise _fatal(
            str(given), f"is outside the Git work tree {work_tree}", "Pass a manifests folder inside the repository."
        ) from None
    relative = "" if relative == "." else relative
    commit = repo.head.commit
    try:
        tree = commit.tree / relative if relative else commit.tree
    except KeyError:
        if given.exists():
            raise _fatal(
                relative,
                f"the manifests folder is not tracked in HEAD commit {commit.hexsha[:12]}",
                f"Commit it (git add {relative} && git commit) or pass the right folder.",
            ) from None
        raise _fatal(
            relative,
            "the manifests folder does not exist, neither in the work tree nor at HEAD",
            f"Pass the folder that holds the manifests, absolute or relative to {repo_dir}.",
        ) from None
    if not isinstance(tree, git.Tree):
        raise _fatal(relative, "is a file at HEAD, not a folder", "Pass the folder that holds the manifests.")
    return ManifestFolder(repo, commit.hexsha, relative, tree)


def tracked_yaml_files(folder: ManifestFolder) -> tuple[list[git.Blob], list[ManifestProblem]]:
    """The .yaml/.yml regular files under the folder at HEAD, sorted by path, and a problem per symlink."""
    files: list[git.Blob] = []
    problems: list[ManifestProblem] = []
    for item in folder.tree.traverse():
        if not isinstance(item, git.Blob):
            continue
        if item.mode == _SYMLINK_MODE:
            problems.append(_symlink_problem(item))
        elif blob_path(item).endswith(YAML_SUFFIXES):
            files.append(item)
    files.sort(key=blob_path)
    return files, problems


def blob_path(blob: git.Blob) -> str:
    """The blob's repo-relative posix path; GitPython types it as str or PathLike, a tree's blobs hold a str."""
    return os.fspath(blob.path)


def uncommitted_changes(folder: ManifestFolder) -> list[tuple[str, str]]:
    """(path, state) for each change under the folder: staged, unstaged, or untracked and not ignored."""
    output = folder.repo.git.execute(
        [
            "git",
            "--literal-pathspecs",
            "status",
            "--porcelain=v1",
            "-z",
            "--untracked-files=all",
            "--no-renames",
            "--",
            folder.path or ".",
        ]
    )
    changes = []
    for entry in output.split("\0"):
        if entry:
            changes.append((entry[3:], _change_state(entry[:2])))
    return sorted(changes)


def _change_state(code: str) -> str:
    if code == "??":
        return "untracked"
    staged, unstaged = code[0], code[1]
    if "U" in code or code in ("AA", "DD"):
        return "unmerged"
    states = []
    if staged != " ":
        states.append(f"{_CHANGE_STATES.get(staged, staged)}, staged")
    if unstaged != " ":
        states.append(f"{_CHANGE_STATES.get(unstaged, unstaged)}, not staged")
    return "; ".join(states)


def _symlink_problem(link: git.Blob) -> ManifestProblem:
    target = link.data_stream.read().decode("utf-8", "replace")
    resolved = posixpath.normpath(posixpath.join(posixpath.dirname(blob_path(link)), target))
    leaves_repo = posixpath.isabs(target) or resolved == ".." or resolved.startswith("../")
    where = "outside the repository" if leaves_repo else "inside the repository"
    return ManifestProblem(
        f"is a symlink to {target!r}, {where}; symlinks are not followed",
        "Commit the file itself in place of the symlink.",
        path=blob_path(link),
    )


def _bare_repository(repo_dir: Union[str, os.PathLike]) -> ManifestError:
    return _fatal(str(repo_dir), "is a bare repository", "Pass a path inside a clone that has a work tree.")


def _fatal(path: str, problem: str, action: str) -> ManifestError:
    return ManifestError([ManifestProblem(problem, action, path=path)])
