"""The commit a stack should run, found cheaply: one `git ls-remote` for a branch, nothing for a fixed commit."""

from __future__ import annotations

from reconciler.settings import StackSpec

from .git_command import GitError, run_git

# `ls-remote --exit-code` exits 2 when the ref is not there, 128 when the remote cannot be read.
_REF_MISSING = 2
_REMOTE_UNREADABLE = 128


class BranchMissingError(Exception):
    """The remote answered, and it has no such branch (deleted, or never pushed)."""


def find_head(spec: StackSpec, timeout: float = 60.0) -> str:
    if spec.commit:
        return spec.commit
    ref = f"refs/heads/{spec.branch}"
    try:
        result = run_git(
            ["ls-remote", "--exit-code", "--", spec.repo_url, ref],
            spec.credentials,
            timeout=timeout,
            ok_codes=(0, _REF_MISSING, _REMOTE_UNREADABLE),
        )
    except GitError as error:
        raise GitError(f"{spec.repo_display}: {error}", unreachable=error.unreachable) from None
    if result.returncode == _REMOTE_UNREADABLE:
        detail = result.stderr.strip().splitlines()[0] if result.stderr.strip() else "no detail"
        raise GitError(f"{spec.repo_display}: cannot read the repository ({detail})", unreachable=True)
    for line in result.stdout.splitlines():
        sha, _, name = line.partition("\t")
        if name == ref:
            return sha
    raise BranchMissingError(
        f"{spec.repo_display}: branch {spec.branch!r} does not exist on the remote (deleted?); "
        "push it again or point the stack at another branch"
    )
