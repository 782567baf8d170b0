"""Throwaway checkouts for previews, never the stack's live workspace.

Each stack has a bare object cache under `<state_dir>/previews/<stack>/cache.git`
that fetches keep up to date. A preview resolves its ref there, then gets a
temporary clone that borrows the cache's objects (git alternates): the full
history (image tags and commit labels are read from it) without copying it.
The clone is deleted when the preview ends. Next to the cache, `ciphertexts.json`
keeps the secret overrides as earlier previews encrypted them (engine/ciphertexts.py).
"""

from __future__ import annotations

import fcntl
import re
import shutil
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from reconciler.engine.ciphertexts import Ciphertexts
from reconciler.settings import GitCredentials, StackSpec
from reconciler.source.checkout import StackCheckout
from reconciler.source.git_command import GitError, run_git

CHECKOUT_PREFIX = "run-"
ABANDONED_AFTER_S = 6 * 3600
_FULL_COMMIT = re.compile(r"^[0-9a-f]{40}([0-9a-f]{24})?$")


class RefNotFound(Exception):
    """The ref names nothing the stack's repository holds."""


class PreviewWorkspace:
    def __init__(self, spec: StackSpec, state_dir: Path) -> None:
        self.spec = spec
        self.root = state_dir / "previews" / spec.name
        self.cache = self.root / "cache.git"

    def ciphertexts(self) -> Ciphertexts:
        """The stack's secret overrides as encrypted by earlier previews: a new one with the same salt encrypts nothing."""
        passphrase = self.spec.passphrase.value if self.spec.passphrase is not None else None
        return Ciphertexts(self.root / "ciphertexts.json", passphrase)

    def resolve(self, ref: str) -> str:
        """The commit `ref` names in the stack's repository: a full commit, a branch, a tag or a fetched ref like refs/pull/7/head."""
        if ref.startswith("-") or not ref.strip():
            raise RefNotFound(f"{ref!r} is not a Git ref")
        with self._cache_locked():
            if _FULL_COMMIT.match(ref) and self._has_commit(ref):
                return ref
            try:
                self._cache_git("fetch", "--quiet", "--no-tags", "--force", "--", self.spec.repo_url, ref, timeout=600)
            except GitError as error:
                raise RefNotFound(
                    f"{self.spec.repo_display}: cannot fetch {ref!r} ({error}); give a full commit, a branch, "
                    "or a ref the repository holds (e.g. refs/pull/N/head)"
                ) from None
            return self._cache_git("rev-parse", "--verify", "--quiet", "FETCH_HEAD^{commit}").strip()

    @contextmanager
    def checkout(self, commit: str) -> Iterator[StackCheckout]:
        """A clean clone at `commit` with the stack's virtualenv linked in, removed afterwards."""
        self.root.mkdir(parents=True, exist_ok=True)
        self._remove_abandoned_checkouts()
        folder = Path(tempfile.mkdtemp(prefix=CHECKOUT_PREFIX, dir=self.root))
        try:
            checkout = StackCheckout(self.spec, folder)
            checkout.repo_dir.mkdir()
            run_git(["init", "--quiet"], GitCredentials(), cwd=checkout.repo_dir)
            alternates = checkout.repo_dir / ".git" / "objects" / "info" / "alternates"
            alternates.write_text(str((self.cache / "objects").resolve()) + "\n")
            checkout.check_out(commit)
            yield checkout
        finally:
            shutil.rmtree(folder, ignore_errors=True)

    def _remove_abandoned_checkouts(self) -> None:
        # A killed process leaves its clone behind; no preview runs anywhere near this long.
        cutoff = time.time() - ABANDONED_AFTER_S
        for folder in self.root.glob(f"{CHECKOUT_PREFIX}*"):
            try:
                if folder.is_dir() and folder.stat().st_mtime < cutoff:
                    shutil.rmtree(folder, ignore_errors=True)
            except OSError:
                pass  # another process removed it first

    # The cache

    @contextmanager
    def _cache_locked(self) -> Iterator[None]:
        # The service and a `preview` command may share a state directory.
        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.root / "cache.lock", "a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            if not (self.cache / "HEAD").exists():
                run_git(["init", "--quiet", "--bare", str(self.cache)], GitCredentials())
                # Fetched commits have no ref of their own here; never prune them under a running preview.
                self._cache_git("config", "gc.auto", "0")
            yield

    def _has_commit(self, commit: str) -> bool:
        result = run_git(["cat-file", "-e", f"{commit}^{{commit}}"], GitCredentials(), cwd=self.cache, ok_codes=(0, 1, 128))
        return result.returncode == 0

    def _cache_git(self, *args: str, timeout: float = 120.0) -> str:
        return run_git(args, self.spec.credentials, cwd=self.cache, timeout=timeout).stdout
