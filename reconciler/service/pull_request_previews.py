"""Pull request previews asked for by webhooks: run on a pool of their own, posted as one comment per stack.

A preview never waits for the stack's reconcile and never holds it up: it
takes no lock of the reconciler's, runs in a throwaway checkout, and the diy
backend takes no lock for a preview. A newer push to a pull request that is
being previewed replaces the one waiting behind it, so only the latest head
is previewed next.
"""

from __future__ import annotations

import logging
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Optional

from pr_preview import GitHubCommentError, PullRequest, pull_request_from_webhook
from reconciler.preview.comment import post_preview
from reconciler.preview.run import run_preview
from reconciler.preview.workspace import PreviewWorkspace, RefNotFound
from reconciler.stack_set import StackSet, pulumi_command

from .github_webhook import pull_request_stacks

log = logging.getLogger("reconciler.preview")


@dataclass(frozen=True)
class PreviewRequest:
    stack: str
    pull: PullRequest
    head: str
    base: Optional[str]

    @property
    def key(self) -> tuple[str, str, int]:
        return (self.stack, self.pull.full_name, self.pull.number)


class PullRequestPreviews:
    def __init__(self, stacks: StackSet, workers: int) -> None:
        self._stacks = stacks
        self._config = stacks.config
        self._command = pulumi_command(stacks.config)
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="preview")
        self._lock = threading.Lock()
        self._running: set[tuple[str, str, int]] = set()
        self._waiting: dict[tuple[str, str, int], PreviewRequest] = {}

    def accept(self, payload: Any) -> dict[str, Any]:
        """Queues the previews a `pull_request` event asks for; the answer says which, or why none."""
        names, ignored = pull_request_stacks(payload, self._config.stacks)
        if ignored is None and not os.environ.get(self._config.github.token_env):
            ignored = f"no GitHub token in ${self._config.github.token_env}: previews could not be posted"
        if ignored is not None or not names:
            return {"previewing": [], "ignored": ignored or "no stack tracks the pull request's base branch"}
        try:
            pull = pull_request_from_webhook(payload)
        except ValueError as error:
            return {"previewing": [], "ignored": str(error)}
        head = payload["pull_request"]["head"].get("sha")
        if not isinstance(head, str) or not head:
            return {"previewing": [], "ignored": "pull_request.head.sha is missing"}
        base = payload["pull_request"]["base"].get("sha")
        for name in names:
            self._submit(PreviewRequest(name, pull, head, base if isinstance(base, str) else None))
        return {"previewing": names}

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    def _submit(self, request: PreviewRequest) -> None:
        with self._lock:
            if request.key in self._running:
                self._waiting[request.key] = request
                return
            self._running.add(request.key)
        self._pool.submit(self._work, request)

    def _work(self, request: Optional[PreviewRequest]) -> None:
        while request is not None:
            try:
                self._preview_and_post(request)
            except Exception:  # noqa: BLE001 - one bad preview must not stop the next
                log.exception("preview of %s for %s#%d failed unexpectedly", request.stack, request.pull.full_name,
                              request.pull.number, extra={"stack": request.stack})
            with self._lock:
                key = request.key
                request = self._waiting.pop(key, None)
                if request is None:
                    self._running.discard(key)

    def _preview_and_post(self, request: PreviewRequest) -> None:
        spec = self._config.stack(request.stack)
        fields = {"stack": spec.name, "commit": request.head}
        workspace = PreviewWorkspace(spec, self._config.state_dir)
        try:
            commit = self._fetch_head(workspace, request)
        except RefNotFound as error:
            log.error("cannot preview %s#%d: %s", request.pull.full_name, request.pull.number, error, extra=fields)
            self._stacks.metrics.previews.labels(spec.name, "failed").inc()
            return
        run = run_preview(self._config, workspace, self._command, self._stacks.redactor, commit, request.base)
        self._stacks.metrics.preview_duration.labels(spec.name).observe(run.duration_s)
        try:
            published = post_preview(self._config, request.pull, run)
        except GitHubCommentError as error:
            log.error("posting the preview to %s#%d failed: %s", request.pull.full_name, request.pull.number,
                      self._stacks.redactor.redact(str(error)), extra=fields)
            self._stacks.metrics.previews.labels(spec.name, "post_failed").inc()
            return
        result = "failed" if run.summary.failed else "previewed"
        self._stacks.metrics.previews.labels(spec.name, result).inc()
        log.info("%s the preview comment %s (%s)", "created" if published.created else "updated", published.url, result,
                 extra=fields)

    @staticmethod
    def _fetch_head(workspace: PreviewWorkspace, request: PreviewRequest) -> str:
        try:
            return workspace.resolve(request.head)
        except RefNotFound:
            # Hosts that refuse a fetch by commit still serve the pull request's own ref.
            commit = workspace.resolve(f"refs/pull/{request.pull.number}/head")
            if commit != request.head:
                log.info("refs/pull/%d/head is at %s, not %s: previewing it (a newer push follows)",
                         request.pull.number, commit[:12], request.head[:12], extra={"stack": request.stack})
            return commit
