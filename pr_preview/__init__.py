"""Pull request previews: engine events to a summary, the summary to a comment, the comment to GitHub."""

from pr_preview.comment_marker import comment_marker
from pr_preview.github_comments import (
    DEFAULT_API_URL,
    DEFAULT_TOKEN_ENV,
    GitHubCommentError,
    PublishedComment,
    publish_comment,
)
from pr_preview.json_report import preview_report, render_json
from pr_preview.markdown import COMMENT_LIMIT, render_markdown
from pr_preview.pull_request import PullRequest, pull_request_from_actions_env, pull_request_from_webhook
from pr_preview.secret_masking import SECRET_PLACEHOLDER, mask_secrets, secret_config_values
from pr_preview.summary import ChangeCounts, ChangedResource, PreviewSummary, from_failure, summarize_preview
from pr_preview.terminal_text import strip_ansi

__all__ = [
    "COMMENT_LIMIT",
    "DEFAULT_API_URL",
    "DEFAULT_TOKEN_ENV",
    "SECRET_PLACEHOLDER",
    "ChangeCounts",
    "ChangedResource",
    "GitHubCommentError",
    "PreviewSummary",
    "PublishedComment",
    "PullRequest",
    "comment_marker",
    "from_failure",
    "mask_secrets",
    "preview_report",
    "publish_comment",
    "pull_request_from_actions_env",
    "pull_request_from_webhook",
    "render_json",
    "render_markdown",
    "secret_config_values",
    "strip_ansi",
    "summarize_preview",
]
