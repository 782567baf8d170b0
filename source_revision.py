"""The Git revision of a folder, for tagging what is built from it.

The tag is the last commit that touched the folder, so a commit that changes
only manifests reuses the image instead of rebuilding and rolling out. A folder
with uncommitted changes gets a distinct tag that names its content, so a
dirty build can never pass for the clean one.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import git


class SourceRevisionError(ValueError):
    pass


@dataclass(frozen=True)
class FolderRevision:
    commit: str
    dirty: bool
    tag: str


def _dirty_fingerprint(repo: git.Repo, work_tree: Path, relatives: list[str]) -> str:
    digest = hashlib.sha256()
    digest.update(repo.git.diff("HEAD", "--binary", "--", *relatives).encode())
    for path in sorted(repo.git.ls_files("--others", "--exclude-standard", "--", *relatives).splitlines()):
        digest.update(path.encode())
        digest.update((work_tree / path).read_bytes())
    return digest.hexdigest()[:10]


def folder_revision(folder: Path) -> FolderRevision:
    return paths_revision(folder, [folder])


def paths_revision(folder: Path, paths: list[Path]) -> FolderRevision:
    """The revision of several files and folders of the work tree FOLDER is in: the last commit that touched any."""
    try:
        repo = git.Repo(folder, search_parent_directories=True)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        raise SourceRevisionError(
            f"{folder}: not inside a Git work tree; images are tagged with the commit that built them, so commit the folder first"
        ) from None
    if repo.working_tree_dir is None:
        raise SourceRevisionError(f"{folder}: inside a bare Git repository; build from a clone that has a work tree")
    work_tree = Path(repo.working_tree_dir)
    relatives = [Path(path).resolve().relative_to(work_tree.resolve()).as_posix() or "." for path in paths]
    commit = repo.git.log("-1", "--format=%H", "--", *relatives) if repo.head.is_valid() else ""
    if not commit:
        raise SourceRevisionError(f"{', '.join(map(str, paths))}: Git tracks no commit of this; commit it before deploying")
    dirty = bool(repo.git.status("--porcelain", "--", *relatives).strip())
    tag = commit[:12]
    if dirty:
        tag = f"{tag}-dirty-{_dirty_fingerprint(repo, work_tree, relatives)}"
    return FolderRevision(commit=commit, dirty=dirty, tag=tag)
