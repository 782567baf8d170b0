"""Commit statuses sent in the background: a slow or failing GitHub never holds up or fails a reconcile.

One worker thread sends what is queued, oldest first, through the GitHub client (which retries 5xx and
rate limits). A status that is still queued when a newer one for the same commit and stack comes is
replaced by it: GitHub only ever shows the newest, and a GitHub that is down cannot grow the queue
past one status per commit and stack (and MAX_QUEUED in all).
"""

from __future__ import annotations

import logging
import os
import threading
from dataclasses import dataclass
from typing import Any, Optional

from reconciler.github_client import GitHubApiError, GitHubClient

from .status_text import StatusText

log = logging.getLogger("reconciler.commit_status")
MAX_QUEUED = 1000
REQUEST_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class CommitStatus:
    stack: str
    repository: str  # owner/repo
    commit: str
    text: StatusText
    target_url: Optional[str] = None

    @property
    def path(self) -> str:
        return f"/repos/{self.repository}/statuses/{self.commit}"

    @property
    def body(self) -> dict[str, Any]:
        body = {"state": self.text.state, "context": f"gitops/{self.stack}", "description": self.text.description}
        if self.target_url:
            body["target_url"] = self.target_url
        return body


class StatusDelivery:
    def __init__(self, api_url: str, token_env: str) -> None:
        self.api_url = api_url
        self.token_env = token_env
        self._queued: dict[tuple[str, str, str], CommitStatus] = {}
        self._sent: dict[str, CommitStatus] = {}  # per stack, the last status GitHub took
        self._sending = False
        self._changed = threading.Condition()
        self._worker: Optional[threading.Thread] = None
        self._token_missing_told = False

    def send(self, status: CommitStatus) -> None:
        """Queues the status and returns at once."""
        key = (status.repository, status.commit, status.stack)
        with self._changed:
            if key not in self._queued and len(self._queued) >= MAX_QUEUED:
                dropped = self._queued.pop(next(iter(self._queued)))
                log.warning("%s: commit status for %s dropped: %d statuses wait for GitHub already", dropped.stack,
                            dropped.commit[:12], MAX_QUEUED, extra={"stack": dropped.stack})
            self._queued[key] = status
            if self._worker is None:
                self._worker = threading.Thread(target=self._work, name="commit-status", daemon=True)
                self._worker.start()
            self._changed.notify_all()

    def shown(self, stack: str, commit: str) -> Optional[StatusText]:
        """What GitHub shows for the stack on this commit, as far as this process sent it (None: nothing yet)."""
        with self._changed:
            sent = self._sent.get(stack)
            return sent.text if sent is not None and sent.commit == commit else None

    def flush(self, timeout_s: float) -> None:
        """Waits until everything queued was sent (or given up on), at most `timeout_s`."""
        with self._changed:
            done = self._changed.wait_for(lambda: not self._queued and not self._sending, timeout_s)
            if not done:
                log.warning("%d commit status(es) not sent to %s after %.0fs; given up", len(self._queued) + self._sending,
                            self.api_url, timeout_s)

    def _work(self) -> None:
        while True:
            with self._changed:
                self._changed.wait_for(lambda: self._queued)
                status = self._queued.pop(next(iter(self._queued)))
                self._sending = True
            try:
                if self._post(status):
                    with self._changed:
                        self._sent[status.stack] = status
            except Exception as error:  # noqa: BLE001 - the worker outlives any one status
                log.warning("%s: commit status for %s not sent: %s: %s", status.stack, status.commit[:12],
                            type(error).__name__, error, extra={"stack": status.stack})
            finally:
                with self._changed:
                    self._sending = False
                    self._changed.notify_all()

    def _post(self, status: CommitStatus) -> bool:
        """True when GitHub took the status."""
        token = os.environ.get(self.token_env, "")
        if not token:
            if not self._token_missing_told:
                log.warning("commit statuses are not sent: $%s is empty; set it to a token with `statuses: write` "
                            "(or turn them off with github.commit_statuses: false)", self.token_env)
                self._token_missing_told = True
            return False
        self._token_missing_told = False
        # Posting the same status twice only repeats it, so even a POST that GitHub may have seen is retried.
        try:
            GitHubClient(self.api_url, token, timeout=REQUEST_TIMEOUT_S).request("POST", status.path, status.body, repeatable=True)
        except GitHubApiError as error:
            log.warning("%s: commit status %s for %s not sent to %s: %s", status.stack, status.text.state, status.commit[:12],
                        status.repository, _what_to_do(error, self.token_env), extra={"stack": status.stack})
            return False
        log.debug("%s: commit status %s sent for %s", status.stack, status.text.state, status.commit[:12], extra={"stack": status.stack})
        return True


def _what_to_do(error: GitHubApiError, token_env: str) -> str:
    hints = {
        401: f"GitHub rejected the token in ${token_env}; set it to a valid, unexpired token",
        403: f"the token in ${token_env} may not write commit statuses; grant it `statuses: write`",
        404: f"the repository or the commit is not found, or the token in ${token_env} cannot read it; "
             "check the stack's github_repository",
        422: "GitHub refused the status",
    }
    if error.rate_limited:
        text = f"GitHub's rate limit ({error.status}) outlasted the retries; the stack's next status is sent as usual"
    else:
        text = hints.get(error.status or 0, error.problem)
    return f"{text}. GitHub said: {error.said}" if error.said else text
