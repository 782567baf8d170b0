"""`python -m reconciler preview`: one stack's preview at a ref, printed, and with --post kept as one PR comment.

Exit codes: 0 the preview ran (whatever it would change), 1 it failed or the
comment could not be posted, 2 bad arguments (unknown stack or ref, no pull
request to post to).
"""

from __future__ import annotations

import logging
import os
import sys
from typing import Optional, TextIO

from reconciler.preview.github_comments import GitHubCommentError
from reconciler.preview.json_report import render_json
from reconciler.preview.markdown import render_markdown
from reconciler.preview.pull_request import PullRequest, pull_request_from_actions_env
from reconciler.process_setup import pulumi_command, redactor_for
from reconciler.settings import ServiceConfig

from .comment import post_preview
from .run import run_preview
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

    run = run_preview(config, workspace, pulumi_command(config), redactor, commit, base_commit)
    out.write(render_json(run.summary, run.secrets) if output_format == "json" else render_markdown(run.summary, run.secrets) + "\n")
    out.flush()
    if pull is not None:
        try:
            published = post_preview(config, pull, run)
        except GitHubCommentError as error:
            print(f"posting the preview of {spec.name} to {pull.full_name}#{pull.number} failed: {redactor.redact(str(error))}",
                  file=sys.stderr)
            return EXIT_FAILED
        print(f"{'created' if published.created else 'updated'} {published.url}", file=sys.stderr)
    return EXIT_FAILED if run.summary.failed else EXIT_PREVIEWED
