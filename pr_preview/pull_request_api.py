"""A pull request as the GitHub REST API describes it: what an `issue_comment` event does not carry (head, base, fork)."""

from __future__ import annotations

import os
from typing import Any

from pr_preview.github_comments import DEFAULT_API_URL, DEFAULT_TOKEN_ENV, GitHubCommentError, _GitHubApi
from pr_preview.pull_request import PullRequest


def fetch_pull_request(pull: PullRequest, *, token_env: str = DEFAULT_TOKEN_ENV, api_url: str = DEFAULT_API_URL,
                       timeout: float = 30.0) -> dict[str, Any]:
    """`GET /repos/{owner}/{repo}/pulls/{number}`: the same object a `pull_request` event holds; raises GitHubCommentError."""
    token = os.environ.get(token_env, "")
    if not token:
        raise GitHubCommentError(f"${token_env} is not set: {pull.full_name}#{pull.number} cannot be read")
    api = _GitHubApi(api_url, token, token_env, pull, timeout)
    found = api.send("GET", f"/repos/{pull.owner}/{pull.repo}/pulls/{pull.number}", None, "reading the pull request")
    if not isinstance(found, dict) or not isinstance(found.get("head"), dict) or not isinstance(found.get("base"), dict):
        raise GitHubCommentError(f"GitHub's answer for {pull.full_name}#{pull.number} is not a pull request")
    return found
