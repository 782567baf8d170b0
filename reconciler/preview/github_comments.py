"""One comment per stack on a pull request, created once and edited in place (GitHub REST API).

Only comments the token's own account wrote are edited: anyone who can
comment can paste the marker, and their comment is left alone (a new one is
created). The account is `GET /user`'s login; a GitHub App installation
token cannot read that, so its bot login (`<app-slug>[bot]`) is given by the
caller, or, in GitHub Actions, is `github-actions[bot]` (the login behind
the workflow's GITHUB_TOKEN).

Requests go through the one GitHub client (reconciler/github_client.py), which commit statuses use too.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import Any, Optional

from reconciler.github_client import GitHubApiError, GitHubClient
from reconciler.preview.comment_marker import comment_marker
from reconciler.preview.pull_request import PullRequest

DEFAULT_API_URL = "https://api.github.com"
DEFAULT_TOKEN_ENV = "GITHUB_TOKEN"
GITHUB_BODY_LIMIT = 65_536
_PAGE_SIZE = 100
_LINK_NEXT = re.compile(r'<([^>]+)>\s*;\s*rel="next"')
ACTIONS_BOT = "github-actions[bot]"


class GitHubCommentError(Exception):
    """GitHub refused or could not be reached; the message names the pull request and what to do."""

    def __init__(self, message: str, status: Optional[int] = None, rate_limited: bool = False) -> None:
        super().__init__(message)
        self.status = status
        self.rate_limited = rate_limited


@dataclass(frozen=True)
class PublishedComment:
    id: int
    url: str  # the comment's page (html_url)
    created: bool  # False when an existing comment was edited


def publish_comment(
    pull: PullRequest,
    stack: str,
    body: str,
    *,
    token_env: str = DEFAULT_TOKEN_ENV,
    api_url: str = DEFAULT_API_URL,
    timeout: float = 30.0,
    author: Optional[str] = None,
) -> PublishedComment:
    """Edit this stack's comment on the pull request, or create it when there is none.

    `body` must start with the stack's marker (`render_markdown` does that): the
    marker is how the next run finds this comment, and why two stacks never
    touch each other's. The oldest comment with the marker written by `author`
    (the token's account: found with GET /user when not given) is the one edited.
    """
    marker = comment_marker(stack)
    if not body.startswith(marker):
        raise ValueError(f"the comment body for stack {stack!r} must start with {marker}: render it with reconciler.preview.markdown.render_markdown")
    if len(body) > GITHUB_BODY_LIMIT:
        raise ValueError(f"the comment body for stack {stack!r} has {len(body)} characters, over GitHub's {GITHUB_BODY_LIMIT}")
    token = os.environ.get(token_env, "")
    if not token:
        raise GitHubCommentError(
            f"${token_env} is not set: the preview of stack {stack!r} cannot be posted to {_where(pull)}. "
            f"Set it to a token that may write pull request comments (in Actions: {token_env}: ${{{{ secrets.GITHUB_TOKEN }}}})"
        )
    api = _GitHubApi(api_url, token, token_env, pull, timeout)
    repo_path = f"/repos/{pull.owner}/{pull.repo}"

    existing = api.find_comment(f"{repo_path}/issues/{pull.number}/comments", marker, author or api.token_login())
    if existing is not None:
        comment = api.send("PATCH", f"{repo_path}/issues/comments/{existing}", {"body": body}, "editing its preview comment")
        return PublishedComment(id=int(comment["id"]), url=str(comment.get("html_url", "")), created=False)
    comment = api.send("POST", f"{repo_path}/issues/{pull.number}/comments", {"body": body}, "creating its preview comment")
    return PublishedComment(id=int(comment["id"]), url=str(comment.get("html_url", "")), created=True)


def _login(comment: dict[str, Any]) -> str:
    user = comment.get("user")
    login = user.get("login") if isinstance(user, dict) else None
    # GitHub logins are case-insensitive.
    return login.casefold() if isinstance(login, str) else ""


def _where(pull: PullRequest) -> str:
    return f"{pull.full_name} pull request #{pull.number}"


class _GitHubApi:
    """The shared client (reconciler/github_client.py), with refusals worded for a pull request's comments."""

    def __init__(self, api_url: str, token: str, token_env: str, pull: PullRequest, timeout: float) -> None:
        self.client = GitHubClient(api_url, token, timeout=timeout)
        self.base = self.client.base
        self.token_env = token_env
        self.pull = pull

    def token_login(self) -> str:
        """The login of the account the token belongs to."""
        try:
            user, _ = self._request("GET", "/user", None, "finding which account the token belongs to")
        except GitHubCommentError as error:
            if error.status != 403 or error.rate_limited:
                raise
            if os.environ.get("GITHUB_ACTIONS") == "true":
                return ACTIONS_BOT
            raise GitHubCommentError(
                f"the token in ${self.token_env} cannot tell whose it is (GET /user: 403), as a GitHub App installation "
                f"token cannot, so its comments on {_where(self.pull)} cannot be told from look-alikes: give the app's "
                "bot login (`<app-slug>[bot]`) as the comment author", 403,
            ) from None
        login = user.get("login") if isinstance(user, dict) else None
        if not isinstance(login, str) or not login:
            raise GitHubCommentError(f"GitHub's answer to GET /user at {self.base} has no login. Check the API URL setting")
        return login

    def find_comment(self, comments_path: str, marker: str, author: str) -> Optional[int]:
        """The id of the first comment `author` wrote whose body starts with the marker, following the pages in order."""
        url: Optional[str] = f"{comments_path}?per_page={_PAGE_SIZE}&page=1"
        seen: set[str] = set()
        while url is not None and url not in seen:
            seen.add(url)
            comments, headers = self._request("GET", url, None, "listing its comments")
            for comment in comments:
                if str(comment.get("body") or "").startswith(marker) and _login(comment) == author.casefold():
                    return int(comment["id"])
            match = _LINK_NEXT.search(headers.get("Link", ""))
            url = match.group(1) if match else None
        return None

    def send(self, method: str, path: str, payload: Optional[dict[str, Any]], action: str) -> dict[str, Any]:
        data, _ = self._request(method, path, payload, action)
        return data

    def _request(self, method: str, path: str, payload: Optional[dict[str, Any]], action: str) -> tuple[Any, Any]:
        try:
            return self.client.request(method, path, payload)
        except GitHubApiError as error:
            raise self._refused(error, action) from None

    def _refused(self, error: GitHubApiError, action: str) -> GitHubCommentError:
        status = error.status
        where = _where(self.pull)
        env = f"${self.token_env}"
        if status is None:
            return GitHubCommentError(f"{error.problem} while {action} on {where}. Check the network and the API URL setting")
        if status == 401:
            text = f"GitHub rejected the token in {env} (401) while {action} on {where}: set {env} to a valid, unexpired token"
        elif error.rate_limited:
            text = f"GitHub's rate limit stopped {action} on {where} ({status}): run the preview again later"
        elif status == 403:
            text = (
                f"the token in {env} may not be used for {action} on {where} (403): in a workflow give the job "
                f"`permissions: pull-requests: write`; for a personal token, grant write access to {self.pull.full_name}"
            )
        elif status == 404:
            text = (
                f"{where} was not found (404) while {action}: check the repository name and the pull request number, "
                f"and that the token in {env} can read {self.pull.full_name}"
            )
        elif status == 422:
            text = f"GitHub refused the comment on {where} (422) while {action}: fix the comment body"
        else:
            text = f"GitHub answered {status} while {action} on {where}: run the preview again later"
        if error.said:
            text += f". GitHub said: {error.said}"
        return GitHubCommentError(text, status, error.rate_limited)
