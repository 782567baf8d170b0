"""Who may have a pull request previewed: the webhook event read against the `previews:` settings, like Atlantis's allowlists.

A preview runs the pull request's program. It runs at once when the author's
association with the repository is trusted (OWNER, MEMBER, COLLABORATOR by
default), when the pull request carries the preview label (GitHub lets only
people with triage rights set labels, so the labeler needs no check of ours),
or when a trusted member comments the preview command (`/preview`) on it.

A pull request from a fork is previewed only on a trusted member's command,
which covers the head of that moment and nothing pushed after it, unless the
config sets `previews.forks: true`; the label does not open a fork: every later
push to the fork would run unreviewed while the label stays.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

from reconciler.settings import PreviewSettings

# Pull request actions that bring a commit to preview (the label's own `labeled` is added when configured).
NEW_COMMIT_ACTIONS = ("opened", "synchronize", "reopened")


@dataclass(frozen=True)
class Permission:
    allowed: bool
    reason: str  # for the webhook's answer and the log
    # Refused, and the author should be told why and how to ask (once per head).
    tell_author: bool = False


def pull_request_permission(payload: dict[str, Any], settings: PreviewSettings) -> Permission:
    """A `pull_request` event (its shape checked already)."""
    pull = payload["pull_request"]
    action = payload.get("action")
    if action == "labeled":
        label = (payload.get("label") or {}).get("name") if isinstance(payload.get("label"), dict) else None
        if settings.label is None or label != settings.label:
            return Permission(False, f"label {label!r} is not the preview label")
    elif action not in NEW_COMMIT_ACTIONS:
        return Permission(False, f"action {action!r} brings no new commit (previewed: {', '.join(NEW_COMMIT_ACTIONS)})")
    if is_fork(payload) and not settings.forks:
        return Permission(False, f"the pull request comes from a fork: {how_to_ask(settings, forks=True)}", tell_author=True)
    association = pull.get("author_association")
    if association in settings.trusted_associations:
        return Permission(True, f"its author is a {str(association).lower()}")
    if settings.label is not None and settings.label in _labels(pull):
        return Permission(True, f"a maintainer labeled it {settings.label!r}")
    return Permission(
        False,
        f"its author's association with the repository is {association or 'NONE'}, not one of "
        f"{', '.join(settings.trusted_associations)}: {how_to_ask(settings)}",
        tell_author=True,
    )


def comment_permission(payload: Any, settings: PreviewSettings) -> Permission:
    """An `issue_comment` event: the preview command, written on a pull request by a trusted member."""
    if not isinstance(payload, dict) or not isinstance(payload.get("issue"), dict) or not isinstance(payload.get("comment"), dict):
        return Permission(False, "not an issue_comment payload: it has no issue and comment")
    if payload.get("action") != "created":
        return Permission(False, f"comment action {payload.get('action')!r}: only new comments are read")
    if not isinstance(payload["issue"].get("pull_request"), dict):
        return Permission(False, "the comment is on an issue, not on a pull request")
    if settings.command is None or not command_in(payload["comment"].get("body"), settings.command):
        return Permission(False, "the comment holds no preview command")
    association = payload["comment"].get("author_association")
    if association not in settings.trusted_associations:
        # No answer on the pull request: anyone could make the service write comments at will.
        return Permission(False, f"the command's author is a {str(association or 'NONE').lower()}, not one of "
                                 f"{', '.join(settings.trusted_associations)}")
    return Permission(True, f"a {str(association).lower()} commented {settings.command}")


def command_in(body: Any, command: str) -> bool:
    """The comment's first line is the command, alone or followed by a space."""
    if not isinstance(body, str):
        return False
    first_line = body.strip().split("\n", 1)[0].strip()
    return first_line == command or first_line.startswith(command + " ")


def is_fork(payload: dict[str, Any]) -> bool:
    head_repo = payload["pull_request"]["head"].get("repo")
    # A deleted fork leaves head.repo null: treat it as a fork.
    return not isinstance(head_repo, dict) or head_repo.get("full_name") != payload["repository"].get("full_name")


def how_to_ask(settings: PreviewSettings, forks: bool = False) -> str:
    ways = []
    if settings.command is not None:
        ways.append(f"a maintainer comments `{settings.command}` (previews the head of that moment)")
    if settings.label is not None and not forks:
        ways.append(f"a maintainer adds the label `{settings.label}`")
    if not ways:
        return "previews of such pull requests are off in this service's config"
    return "it is previewed once " + " or ".join(ways)


def refusal_comment(reason: str) -> str:
    """The short answer on the pull request; the caller puts the marker first."""
    return ("### Pulumi preview not run\n\n"
            f"This pull request was not previewed: {reason}.\n\n"
            "A preview runs the pull request's program with the stacks' read credentials, "
            "so it runs only for code a maintainer vouches for.")


def _labels(pull: dict[str, Any]) -> set[str]:
    labels = pull.get("labels")
    return {label.get("name") for label in labels if isinstance(label, dict)} if isinstance(labels, list) else set()


def pull_number(payload: dict[str, Any]) -> Optional[int]:
    number = payload["issue"].get("number")
    return number if isinstance(number, int) and number > 0 else None
