"""One preview of one stack at one commit, against the stack's real state, reduced to a PreviewSummary.

Nothing here writes to the backend: the stack is selected, never created; the
diy backend takes no lock for a preview; the checkout is thrown away. The
pull request's program runs in a sandbox (sandbox.py) with a deadline.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

import yaml
from pulumi import automation as auto
from pulumi.automation.events import EngineEvent

from reconciler.engine.event_log import EventLog
from reconciler.engine.stack_file import StackFile
from reconciler.engine.stack_session import StackSession
from reconciler.preview.summary import PreviewSummary, from_failure, summarize_preview
from reconciler.settings import ServiceConfig, StackSpec
from reconciler.source.checkout import StackCheckout
from reconciler.telemetry.redaction import Redactor
from reconciler.telemetry.secret_masking import secret_config_values

from .backend_view import has_state
from .sandbox import PreviewSandbox
from .workspace import PreviewWorkspace

log = logging.getLogger("reconciler.preview")


@dataclass
class PreviewRun:
    summary: PreviewSummary
    secrets: list[str]  # every value the comment must mask
    duration_s: float
    # The stack has no state to compare with yet (a unit the pull request adds): the reconciler makes it.
    new_stack: bool = False


def run_preview(
    config: ServiceConfig,
    workspace: PreviewWorkspace,
    pulumi_command: auto.PulumiCommand,
    redactor: Redactor,
    commit: str,
    base: Optional[str] = None,
    prepare_checkout: Optional[Callable[[Path], None]] = None,
    destroy: bool = False,
) -> PreviewRun:
    """`pulumi preview --diff` of `commit` (resolved already) in a throwaway checkout; failures become a failed summary.

    `prepare_checkout` gets the checkout's project folder first (a unit's stack file is copied from its parent's).
    With `destroy`, what destroying the stack deletes (`destroy --preview-only`; the program does not run)."""
    started = time.monotonic()
    spec = workspace.spec
    fields = {"stack": spec.name, "commit": commit, "operation": "preview"}
    events: list[EngineEvent] = []
    event_log = EventLog("pr-preview", spec.name, commit, redactor)
    # The config file's secrets (passphrases, overrides, the webhook's) and the GitHub token, then the stack's own.
    secrets = [*config.secrets(), os.environ.get(config.github.token_env, "")]

    def on_event(event: EngineEvent) -> None:
        events.append(event)
        event_log.on_event(event)

    log.info("previewing %s", commit[:12], extra=fields)
    new_stack = False
    try:
        if not has_state(spec):
            raise auto.StackNotFoundError(auto.CommandResult(stdout="", stderr="", code=1))
        with workspace.checkout(commit) as checkout:
            if prepare_checkout is not None:
                prepare_checkout(checkout.project_path)
            sandbox = PreviewSandbox(config, spec, checkout.repo_dir.parent, workspace.cache, pulumi_command)
            session = StackSession(
                spec, checkout.project_path, sandbox.command, redactor,
                remembered_salt=lambda: live_salt(config, spec), remember_salt=lambda salt: None, create=False,
                env=sandbox.env, ciphertexts=workspace.ciphertexts(),
            )
            committed_secrets = StackFile(checkout.project_path, spec.stack).secure_keys()
            session.prepare()
            if committed_secrets:
                # The overrides' values are among config.secrets() already; a CLI call only for what the commit holds.
                secrets += secret_config_values(session.stack.get_all_config())
            if destroy:
                result = session.stack.preview_destroy(color="never", on_event=on_event, show_secrets=False)
            else:
                result = session.stack.preview(diff=True, color="never", on_event=on_event)
            summary = summarize_preview(spec.name, commit, events, diff_text=result.stdout, change_summary=result.change_summary)
    except auto.StackNotFoundError:
        problem = (f"stack {spec.stack} does not exist in {spec.backend_url} yet: there is no state to compare with; "
                   "the reconciler creates it on its first run")
        summary = from_failure(spec.name, commit, problem)
        new_stack = True
    except Exception as error:  # noqa: BLE001 - any failure is reported in the comment, not raised
        summary = from_failure(spec.name, commit, error, events=events)
    summary = dataclasses.replace(summary, base=base)
    duration = time.monotonic() - started
    if summary.failed:
        log.warning("preview failed in %.1fs", duration, extra=fields)
    else:
        log.info("preview done in %.1fs: %s", duration, summary.counts.as_dict(), extra=fields)
    return PreviewRun(summary, secrets, duration, new_stack)


def live_salt(config: ServiceConfig, spec: StackSpec) -> Optional[str]:
    """The salt in the stack's live workspace, when the service has one: saves a `stack export` of the whole state.

    Used only when the commit holds no secret config (StackSession asks the state itself otherwise).
    """
    live = StackCheckout(spec, config.state_dir / "workspaces" / spec.name)
    try:
        return StackFile(live.project_path, spec.stack).salt()
    except (OSError, ValueError, yaml.YAMLError):
        return None  # being rewritten by a run right now, or never written
