"""The review stack's part of the pull request's one comment per stack: the preview, then where the review stack stands.

Previews and review stacks run on their own threads and either may post first,
so both post through here: the comment is put together from the last preview
posted and the review stack's record, under one lock per comment. The preview
text is kept in the record (and, before a record exists, in memory), so a
restarted service still posts both.
"""

from __future__ import annotations

import threading
import time
from typing import Optional

from reconciler.preview.comment_marker import comment_marker
from reconciler.preview.github_comments import PublishedComment, publish_comment
from reconciler.preview.pull_request import PullRequest
from reconciler.settings import ServiceConfig
from reconciler.telemetry.secret_masking import clean_text

from .naming import review_target
from .record import READY, ReviewStack
from .store import ReviewStackStore

# Previews of pull requests with no review stack yet, kept for the one that may follow; the oldest go first.
PREVIEWS_KEPT = 1_000
_MESSAGE_LINES = 20


def review_section(record: ReviewStack, secrets: tuple[str, ...] = ()) -> str:
    where = f"App: {record.url}" if record.url else f"Namespace: `{record.namespace}`"
    commit = f"`{record.applied_commit[:7]}`" if record.applied_commit else "none yet"
    lines = [
        f"### Review stack `{record.pulumi_stack}`: {record.status}",
        "",
        f"{where} · applied commit {commit} · head `{record.head[:7]}` · "
        f"destroyed at the latest {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime(record.expires_at))}",
    ]
    if record.message and record.status != READY:
        message = "\n".join(clean_text(record.message, secrets).strip().splitlines()[-_MESSAGE_LINES:])
        lines += ["", "```", message.replace("```", "'''"), "```"]
    return "\n".join(lines) + "\n"


def compose(stack: str, preview_body: Optional[str], record: Optional[ReviewStack], secrets: tuple[str, ...] = ()) -> str:
    body = preview_body if preview_body else f"{comment_marker(stack)}\n"
    if record is None:
        return body
    return f"{body.rstrip()}\n\n---\n\n{review_section(record, secrets)}"


class SharedComments:
    """Posts previews and review stack states to the same comment, one writer at a time."""

    def __init__(self, config: ServiceConfig, store: ReviewStackStore, secrets: tuple[str, ...]) -> None:
        self._config = config
        self._store = store
        self._secrets = secrets
        self._lock = threading.Lock()
        self._comment_locks: dict[tuple[str, str, int], threading.Lock] = {}
        self._previews: dict[tuple[str, str, int], str] = {}

    def post_preview(self, stack: str, pull: PullRequest, preview_body: str) -> PublishedComment:
        key = (stack, pull.full_name, pull.number)
        spec = self._config.stack(stack)
        with self._comment_lock(key):
            record = self._store.get(review_target(spec, pull.number, self._config.state_dir).name)
            if record is None:
                self._keep_preview(key, preview_body)
            else:
                record.preview_body = preview_body
                self._store.save(record)
            return self._publish(stack, pull, compose(stack, preview_body, record, self._secrets))

    def post_review(self, record: ReviewStack) -> PublishedComment:
        """The record as it stands (a destroyed one included: the comment says so last)."""
        pull = PullRequest.parse(record.repository, record.number)
        with self._comment_lock((record.base, record.repository, record.number)):
            return self._publish(record.base, pull, compose(record.base, record.preview_body, record, self._secrets))

    def preview_for(self, stack: str, pull: PullRequest) -> Optional[str]:
        with self._lock:
            return self._previews.get((stack, pull.full_name, pull.number))

    def _publish(self, stack: str, pull: PullRequest, body: str) -> PublishedComment:
        github = self._config.github
        return publish_comment(pull, stack, body, token_env=github.token_env, api_url=github.api_url)

    def _keep_preview(self, key: tuple[str, str, int], body: str) -> None:
        with self._lock:
            self._previews.pop(key, None)
            self._previews[key] = body
            if len(self._previews) > PREVIEWS_KEPT:
                del self._previews[next(iter(self._previews))]

    def _comment_lock(self, key: tuple[str, str, int]) -> threading.Lock:
        with self._lock:
            return self._comment_locks.setdefault(key, threading.Lock())
