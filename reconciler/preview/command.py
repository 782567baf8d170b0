"""`python -m reconciler preview`: one stack's preview at a ref, printed, and with --post kept as one PR comment.

A parent of units (reconciler/units/) is followed by the preview of each unit the ref changes (planned at the
ref) or removes, as the service previews pull requests: one comment per unit.

Exit codes: 0 the previews ran (whatever they would change; a unit the ref adds has no stack to preview yet),
1 one failed or a comment could not be posted, 2 bad arguments (unknown stack or ref, no pull request to
post to).
"""

from __future__ import annotations

import logging
import os
import sys
from typing import Optional, TextIO

from reconciler.preview.github_comments import GitHubCommentError
from reconciler.preview.json_report import preview_report, render_json
from reconciler.preview.markdown import render_markdown
from reconciler.preview.pull_request import PullRequest, pull_request_from_actions_env
from reconciler.process_setup import pulumi_command, redactor_for
from reconciler.settings import ServiceConfig
from reconciler.telemetry.redaction import Redactor
from reconciler.units.previews import unit_previews

from .comment import post_preview
from .run import PreviewRun, run_preview
from .workspace import PreviewWorkspace, RefNotFound

log = logging.getLogger("reconciler.preview")
EXIT_PREVIEWED = 0
EXIT_FAILED = 1
EXIT_BAD_ARGUMENTS = 2


def pull_request_argument(value: Optional[str]) -> PullRequest:
    """`OWNER/REPO#NUMBER`, else the pull request of the GitHub Actions run (GITHUB_EVENT_PATH)."""
    if not value:
        return pull_request_from_actions_env()
    repository, hash_sign, number = value.rpartition("#")
    if not hash_sign or not number.isdigit():
        raise ValueError(f"--pull-request {value!r} must be written OWNER/REPO#NUMBER")
    return PullRequest.parse(repository, int(number))


def preview(
    config: ServiceConfig,
    stack: str,
    ref: str,
    base: Optional[str],
    output_format: str,
    post: bool,
    pull_request: Optional[str],
    out: TextIO = sys.stdout,
) -> int:
    spec = config.stack(stack)
    pull = None
    token = os.environ.get(config.github.token_env, "")
    if post:
        try:
            pull = pull_request_argument(pull_request)
        except ValueError as error:
            print(f"--post: {error}", file=sys.stderr)
            return EXIT_BAD_ARGUMENTS
        if not token:
            print(f"--post: ${config.github.token_env} is empty; export a GitHub token with pull-requests: write "
                  "(or set github.token_env in the config)", file=sys.stderr)
            return EXIT_BAD_ARGUMENTS
    redactor = redactor_for(config)
    redactor.add(token)
    workspace = PreviewWorkspace(spec, config.state_dir)
    try:
        commit = workspace.resolve(ref)
        base_commit = workspace.resolve(base) if base else None
    except RefNotFound as error:
        print(redactor.redact(str(error)), file=sys.stderr)
        return EXIT_BAD_ARGUMENTS

    command = pulumi_command(config)
    run = run_preview(config, workspace, command, redactor, commit, base_commit)
    # The command does not read the service's store: the units are those of the plan at the ref.
    units = list(unit_previews(config, workspace, [], command, redactor, commit, base_commit))
    out.write(render(run, units, output_format))
    out.flush()
    # Every comment is posted, even after one GitHub refused.
    posted = [post_comment(config, pull, each, redactor) for each in (run, *units)] if pull is not None else []
    failed = run.summary.failed or any(unit.summary.failed and not unit.new_stack for unit in units)
    return EXIT_FAILED if failed or not all(posted) else EXIT_PREVIEWED


def render(run: PreviewRun, units: list[PreviewRun], output_format: str) -> str:
    """The stack's preview, then each unit's: Markdown comments one after the other, or one JSON object with the
    units' reports under `units`."""
    if output_format == "json":
        reports = [{**preview_report(unit.summary, unit.secrets), "new_stack": unit.new_stack} for unit in units]
        return render_json(run.summary, run.secrets, units=reports)
    return "\n".join(render_markdown(each.summary, each.secrets) for each in (run, *units)) + "\n"


def post_comment(config: ServiceConfig, pull: PullRequest, run: PreviewRun, redactor: Redactor) -> bool:
    """Creates or edits the stack's one comment; False (and why, on stderr) when GitHub refuses."""
    try:
        published = post_preview(config, pull, run)
    except GitHubCommentError as error:
        print(f"posting the preview of {run.summary.stack} to {pull.full_name}#{pull.number} failed: "
              f"{redactor.redact(str(error))}", file=sys.stderr)
        return False
    print(f"{'created' if published.created else 'updated'} {published.url}", file=sys.stderr)
    return True
