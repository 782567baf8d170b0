"""`pulumi up` and `pulumi destroy` + `stack rm` of a review stack, run as a preview runs: sandboxed, in a throwaway checkout.

The pull request's program gets the preview's allowlisted environment (the
base stack's settings and `preview_env:`, never the service's), inside the
preview jail when the service runs as root. The one thing it may write besides
its run folder is the review stack's own file backend: the base stack's state
is hidden from it, so a review stack can never write it.

The review stack's settings are the base stack's stack file, copied under the
review stack's name with the base stack's encryption salt: the base stack's
passphrase decrypts its committed secrets, and nothing has to be committed for
a review stack.
"""

from __future__ import annotations

import logging
import shutil
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Optional

from pulumi import automation as auto

from reconciler.engine.stack_file import copy_stack_file
from reconciler.engine.stack_session import StackSession
from reconciler.preview.run import live_salt
from reconciler.preview.sandbox import PreviewSandbox
from reconciler.preview.workspace import PreviewWorkspace
from reconciler.settings import ServiceConfig, StackSpec
from reconciler.telemetry.redaction import Redactor

from .naming import ReviewTarget, review_spec

log = logging.getLogger("reconciler.review")


@dataclass(frozen=True)
class Applied:
    url: Optional[str]  # the stack output the config names, when the program exports it


class ReviewStackEngine:
    def __init__(self, config: ServiceConfig, pulumi_command: auto.PulumiCommand, redactor: Redactor) -> None:
        self._config = config
        self._command = pulumi_command
        self._redactor = redactor

    def apply(self, base: StackSpec, target: ReviewTarget, commit: str) -> Applied:
        """Creates the review stack on its first run, then updates it; raises on failure (the message is redacted)."""
        settings = base.review_stacks
        assert settings is not None, "only stacks with review_stacks have review stacks"
        fields = {"stack": target.name, "commit": commit, "operation": "up"}
        log.info("applying review stack %s at %s", target.pulumi_stack, commit[:12], extra=fields)
        with self._session(base, target, commit, create=True) as session:
            result = session.stack.up(color="never", on_output=lambda line: log.debug("%s", self._redactor.redact(line.rstrip()), extra=fields))
        output = result.outputs.get(settings.url_output)
        url = output.value if output is not None and not output.secret and isinstance(output.value, str) else None
        return Applied(url)

    def destroy(self, base: StackSpec, target: ReviewTarget, commit: str) -> None:
        """Destroys every resource, removes the stack from its backend, then its folder; a stack never created is no error."""
        fields = {"stack": target.name, "commit": commit, "operation": "destroy"}
        if (target.backend / ".pulumi").is_dir():
            log.info("destroying review stack %s", target.pulumi_stack, extra=fields)
            try:
                with self._session(base, target, commit, create=False) as session:
                    session.stack.destroy(color="never")
                    session.stack.workspace.remove_stack(target.pulumi_stack)
            except auto.StackNotFoundError:
                log.info("review stack %s is not in its backend: nothing to destroy", target.pulumi_stack, extra=fields)
        shutil.rmtree(target.root, ignore_errors=True)

    @contextmanager
    def _session(self, base: StackSpec, target: ReviewTarget, commit: str, create: bool) -> Iterator[StackSession]:
        spec = review_spec(base, target, commit)
        target.backend.mkdir(parents=True, exist_ok=True)
        workspace = PreviewWorkspace(base, self._config.state_dir)
        commit = workspace.resolve(commit)
        with workspace.checkout(commit) as checkout:
            salt = copy_stack_file(checkout.project_path, base.stack, spec.stack, lambda: live_salt(self._config, base))
            sandbox = PreviewSandbox(self._config, spec, checkout.repo_dir.parent, workspace.cache, self._command,
                                     timeout=(base.operation_timeout, f"stacks ({base.name}).operation_timeout"),
                                     writable=[target.backend])
            _own_buildx_config(sandbox.env, checkout.repo_dir.parent)
            session = StackSession(spec, checkout.project_path, sandbox.command, self._redactor,
                                   remembered_salt=lambda: salt, remember_salt=lambda _: None, create=create, env=sandbox.env)
            session.prepare()
            yield session


def _own_buildx_config(env: dict[str, str], run_dir: Path) -> None:
    """A copy of the builder settings the environment names, in the run folder: buildx records every build there,
    and an `up` (unlike a preview) builds images, while everything outside the run folder is read-only."""
    source = env.get("BUILDX_CONFIG")
    if source and Path(source).is_dir():
        copy = run_dir / "buildx"
        shutil.copytree(source, copy, ignore=shutil.ignore_patterns("refs", "activity"), symlinks=True)
        env["BUILDX_CONFIG"] = str(copy)
