"""A preview's comment on its pull request, where the config says comments go."""

from __future__ import annotations

from reconciler.preview.github_comments import PublishedComment, publish_comment
from reconciler.preview.markdown import render_markdown
from reconciler.preview.pull_request import PullRequest
from reconciler.settings import ServiceConfig

from .run import PreviewRun


def post_preview(config: ServiceConfig, pull: PullRequest, run: PreviewRun) -> PublishedComment:
    """Creates or edits the stack's one comment; raises GitHubCommentError when GitHub refuses."""
    body = render_markdown(run.summary, run.secrets)
    return publish_comment(pull, run.summary.stack, body, token_env=config.github.token_env, api_url=config.github.api_url)
