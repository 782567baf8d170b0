"""Which pull request a preview comment belongs to, from Actions or from a webhook payload."""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Optional

# GitHub's own limits on owner and repository names; nothing that could change the API path.
_NAME = re.compile(r"[A-Za-z0-9_.-]{1,100}")


@dataclass(frozen=True)
class PullRequest:
    owner: str
    repo: str
    number: int

    def __post_init__(self) -> None:
        for part in (self.owner, self.repo):
            if not isinstance(part, str) or not _NAME.fullmatch(part) or part in (".", ".."):
                raise ValueError(f"{part!r} is not a GitHub owner or repository name (expected letters, digits, '-', '_', '.')")
        if isinstance(self.number, bool) or not isinstance(self.number, int) or self.number < 1:
            raise ValueError(f"pull request number {self.number!r} must be a positive integer")

    @property
    def full_name(self) -> str:
        return f"{self.owner}/{self.repo}"

    @classmethod
    def parse(cls, repository: str, number: int) -> "PullRequest":
        """From `owner/repo` and a number."""
        owner, slash, repo = repository.partition("/")
        if not slash:
            raise ValueError(f"repository {repository!r} must be written owner/repo")
        return cls(owner, repo, number)


def pull_request_from_webhook(payload: Mapping[str, Any]) -> PullRequest:
    """From a `pull_request` webhook event (or the Actions event file, which is the same payload)."""
    try:
        return PullRequest.parse(payload["repository"]["full_name"], payload["pull_request"]["number"])
    except (KeyError, TypeError) as missing:
        raise ValueError(f"not a pull_request event payload: {missing} is missing") from None


def pull_request_from_actions_env(environ: Optional[Mapping[str, str]] = None) -> PullRequest:
    """In a GitHub Actions `pull_request` run: the event file named by GITHUB_EVENT_PATH."""
    environ = os.environ if environ is None else environ
    event_path = environ.get("GITHUB_EVENT_PATH")
    if not event_path:
        raise ValueError("GITHUB_EVENT_PATH is not set: --post needs a GitHub Actions pull_request run")
    try:
        payload = json.loads(Path(event_path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise ValueError(f"cannot read the Actions event file {event_path}: {error}") from None
    try:
        return pull_request_from_webhook(payload)
    except ValueError as error:
        raise ValueError(f"{event_path}: {error}; run the preview on `pull_request` events only") from None
