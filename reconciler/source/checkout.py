"""A stack's own clean work tree, set to exactly one commit, with the virtualenv its program runs in.

Each stack has one clone under the state directory. A run fetches the branch,
checks out the commit detached and removes anything Git does not track, so
nothing from an earlier run (or from the running program) leaks into the next.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Optional

import yaml

from reconciler.settings import StackSpec

from .git_command import GitError, run_git

_ALLOW_DELETES = re.compile(r"^\s*(\d+)\s*$")
ALLOW_DELETES_TRAILER = "Allow-Deletes"


class CommitMissingError(Exception):
    """The remote was read but does not hold the commit (a typo in a fixed commit, or history rewritten away)."""


class StackCheckout:
    def __init__(self, spec: StackSpec, workspace_dir: Path) -> None:
        self.spec = spec
        self.repo_dir = workspace_dir / "checkout"
        self.project_path = self.repo_dir / spec.project_dir

    def _git(self, *args: str, **kwargs) -> str:
        return run_git(args, self.spec.credentials, cwd=self.repo_dir, **kwargs).stdout

    def has_commit(self, commit: Optional[str]) -> bool:
        if not commit or not (self.repo_dir / ".git").exists():
            return False
        result = run_git(["cat-file", "-e", f"{commit}^{{commit}}"], self.spec.credentials, cwd=self.repo_dir, ok_codes=(0, 1, 128))
        return result.returncode == 0

    def fetch(self, commit: str) -> None:
        """Makes the commit available locally; a force-pushed branch is followed like any other."""
        if not (self.repo_dir / ".git").exists():
            self.repo_dir.mkdir(parents=True, exist_ok=True)
            self._git("init", "--quiet")
        if self.has_commit(commit):
            return
        refspecs = [f"+refs/heads/{self.spec.branch}:refs/remotes/origin/{self.spec.branch}"] if self.spec.branch else [commit]
        try:
            self._git("fetch", "--quiet", "--no-tags", "--force", "--", self.spec.repo_url, *refspecs, timeout=600)
            if not self.has_commit(commit) and self.spec.branch:
                # The branch moved again since ls-remote; ask for the exact commit.
                self._git("fetch", "--quiet", "--no-tags", "--", self.spec.repo_url, commit, timeout=600)
        except GitError as error:
            if self.spec.commit and not self.has_commit(commit):
                raise CommitMissingError(f"{self.spec.repo_display}: commit {commit} cannot be fetched: {error}") from None
            raise GitError(f"{self.spec.repo_display}: {error}", unreachable=True) from None
        if not self.has_commit(commit):
            raise CommitMissingError(f"{self.spec.repo_display}: the remote does not hold commit {commit}")

    def check_out(self, commit: str) -> Path:
        """The project folder at exactly `commit`, clean, with the virtualenv linked in; returns its path."""
        self._git("checkout", "--quiet", "--force", "--detach", commit)
        self._git("clean", "-ffdxq")
        if not (self.project_path / "Pulumi.yaml").is_file() and not (self.project_path / "Pulumi.yml").is_file():
            raise CommitMissingError(
                f"{self.spec.repo_display}@{commit[:12]}: {self.spec.project_dir}/Pulumi.yaml does not exist; "
                "fix project_dir in the reconciler config or commit the Pulumi project"
            )
        self._link_virtualenv()
        return self.project_path

    def _link_virtualenv(self) -> None:
        # The program runs from the checkout, which has no virtualenv: give it the
        # configured one under the name Pulumi.yaml expects (no install at run time).
        name = _project_virtualenv(self.project_path)
        if name is None or os.path.isabs(name) or ".." in Path(name).parts:
            return
        link = self.project_path / name
        if link.is_symlink():
            link.unlink()
        elif link.exists():
            return
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(self.spec.virtualenv, target_is_directory=True)
        exclude = self.repo_dir / ".git" / "info" / "exclude"
        entry = "/" + link.relative_to(self.repo_dir).as_posix()
        lines = exclude.read_text().splitlines() if exclude.exists() else []
        if entry not in lines:
            exclude.parent.mkdir(parents=True, exist_ok=True)
            exclude.write_text("\n".join([*lines, entry]) + "\n")

    def touches(self, old: str, new: str, paths: tuple[str, ...]) -> bool:
        """Whether anything under `paths` differs between the two commits (true when `old` is not known)."""
        if not self.has_commit(old):
            return True
        result = run_git(
            ["diff", "--quiet", old, new, "--", *(f":(literal){path}" for path in paths)],
            self.spec.credentials, cwd=self.repo_dir, ok_codes=(0, 1),
        )
        return result.returncode == 1

    def allowed_deletes(self, old: Optional[str], new: str) -> Optional[int]:
        """The largest `Allow-Deletes: N` trailer in the commits since `old` (or in `new` alone), if any."""
        if old and self.has_commit(old) and self._is_ancestor(old, new):
            revisions = [f"{old}..{new}"]
        else:
            revisions = ["-1", new]
        output = self._git(
            "log", f"--format=%(trailers:key={ALLOW_DELETES_TRAILER},valueonly,separator=%x0a)", *revisions, "--"
        )
        counts = [int(match.group(1)) for line in output.splitlines() if (match := _ALLOW_DELETES.match(line))]
        return max(counts) if counts else None

    def contains(self, commit: str, descendant: str) -> bool:
        """Whether `descendant` (fetched by its hash when missing, whatever its branch) has `commit` in its history;
        False when the remote no longer holds `descendant`."""
        self.fetch(commit)
        if not self.has_commit(descendant):
            try:
                self._git("fetch", "--quiet", "--no-tags", "--", self.spec.repo_url, descendant, timeout=600)
            except GitError:
                return False
        return self._is_ancestor(commit, descendant)

    def _is_ancestor(self, old: str, new: str) -> bool:
        result = run_git(["merge-base", "--is-ancestor", old, new], self.spec.credentials, cwd=self.repo_dir, ok_codes=(0, 1))
        return result.returncode == 0

    def subject(self, commit: str) -> str:
        return self._git("log", "-1", "--format=%s", commit, "--").strip()


def _project_virtualenv(project_path: Path) -> Optional[str]:
    for name in ("Pulumi.yaml", "Pulumi.yml"):
        path = project_path / name
        if path.is_file():
            try:
                project = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
            except yaml.YAMLError:
                return None
            runtime = project.get("runtime")
            if isinstance(runtime, dict) and isinstance(runtime.get("options"), dict):
                value = runtime["options"].get("virtualenv")
                return value if isinstance(value, str) and value else None
    return None
