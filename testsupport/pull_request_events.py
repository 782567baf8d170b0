"""A pull request as GitHub would hold it for a test: commits at refs/pull/N/head, its details on a FakeGitHub, signed events."""

from __future__ import annotations

import hashlib
import hmac
import json
import subprocess
from typing import Any, Optional

from testsupport.fake_github import FakeGitHub
from testsupport.reconciler_testing import GitRemote, git


class LabelledPullRequest:
    """Pull request `number` of OWNER/REPO, from a branch of the same repository, carrying `labels`."""

    def __init__(self, remote: GitRemote, github: FakeGitHub, full_name: str, number: int, labels: tuple[str, ...]) -> None:
        self.remote = remote
        self.github = github
        self.owner, self.repo = full_name.split("/")
        self.number = number
        self.labels = list(labels)
        self.details: dict[str, Any] = {}

    def push(self, message: str, files: dict[str, Optional[str]]) -> str:
        """A commit on the pull request's branch (made from main the first time), at refs/pull/N/head; returns it."""
        clone, branch = self.remote.clone, f"pr-{self.number}"
        exists = subprocess.run(["git", "rev-parse", "--verify", "--quiet", branch], cwd=clone, capture_output=True).returncode == 0
        git("checkout", "--quiet", branch if exists else "-b", *([] if exists else [branch, "main"]), cwd=clone)
        try:
            head = self.remote.commit(message, files, push=False)
            git("push", "--quiet", "--force", str(self.remote.bare), f"HEAD:refs/pull/{self.number}/head", cwd=clone)
        finally:
            git("checkout", "--quiet", "main", cwd=clone)
        self.github.add_pull(self.owner, self.repo, self.number)
        full_name = f"{self.owner}/{self.repo}"
        self.details = {
            "number": self.number, "state": "open", "merged": False, "author_association": "CONTRIBUTOR",
            "labels": [{"name": label} for label in self.labels],
            "head": {"sha": head, "ref": branch, "repo": {"full_name": full_name}},
            "base": {"sha": self.remote.head(), "ref": "main", "repo": {"full_name": full_name}},
        }
        self.github.pull_details[(self.owner, self.repo, self.number)] = self.details
        return head

    def event(self, action: str, label: Optional[str] = None) -> bytes:
        """The `pull_request` webhook body GitHub would send now."""
        payload: dict[str, Any] = {"action": action, "number": self.number, "pull_request": self.details,
                                   "repository": {"full_name": f"{self.owner}/{self.repo}", "clone_url": str(self.remote.bare)}}
        if label:
            payload["label"] = {"name": label}
        return json.dumps(payload).encode()

    def comment(self, stack: str) -> str:
        """The stack's one comment (an author who is not a member also gets the one saying why no preview ran)."""
        marker = f"<!-- pulumi-gitops-preview stack={stack} -->"
        [comment] = [c for c in self.github.comments_on(self.owner, self.repo, self.number) if c["body"].startswith(marker)]
        return comment["body"]


def signed_event(secret: str, body: bytes, event: str = "pull_request") -> dict[str, str]:
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return {"X-GitHub-Event": event, "X-Hub-Signature-256": f"sha256={digest}", "Content-Type": "application/json"}
