"""Pull request previews asked for by webhooks: run on a pool of their own, posted as one comment per stack.

`pull_request` events preview the pull requests whose author or label the
config trusts; `issue_comment` events preview a pull request when a trusted
member comments the preview command (preview_permission.py). Any other pull
request gets one short comment per head saying why and how to ask.

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
from typing import Any, Callable, Optional

from reconciler.preview.comment import post_preview
from reconciler.preview.comment_marker import comment_marker
from reconciler.preview.github_comments import GitHubCommentError, PublishedComment, publish_comment
from reconciler.preview.pull_request import PullRequest, pull_request_from_webhook
from reconciler.preview.pull_request_api import fetch_pull_request
from reconciler.preview.run import PreviewRun, run_preview
from reconciler.preview.workspace import PreviewWorkspace, RefNotFound
from reconciler.process_setup import pulumi_command
from reconciler.stack_set import StackSet
from reconciler.units.previews import unit_previews

from .github_webhook import pull_request_stacks
from .preview_permission import comment_permission, pull_number, pull_request_permission, refusal_comment

log = logging.getLogger("reconciler.preview")
# The refusal's own comment: '/' is in no stack name of the config, so no stack's preview comment has this marker.
REFUSAL_MARKER = comment_marker("pull-request/not-previewed")
# Heads remembered as told; past this many the oldest are forgotten (a head told twice costs one edit).
TOLD_KEPT = 10_000
PostPreview = Callable[[PullRequest, PreviewRun], PublishedComment]


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
    def __init__(self, stacks: StackSet, workers: int, post: Optional[PostPreview] = None) -> None:
        """`post` puts a preview on its pull request (default: the stack's comment, holding the preview alone)."""
        self._stacks = stacks
        self._post = post or (lambda pull, run: post_preview(stacks.config, pull, run))
        self._config = stacks.config
        self._command = pulumi_command(stacks.config)
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="preview")
        self._lock = threading.Lock()
        self._running: set[tuple[str, str, int]] = set()
        self._waiting: dict[tuple[str, str, int], PreviewRequest] = {}
        # (repository, number, head) already told they are not previewed: one comment per head, not one per event.
        self._told: dict[tuple[str, int, str], None] = {}

    def accept(self, event: str, payload: Any) -> dict[str, Any]:
        """Queues the previews a `pull_request` or `issue_comment` event asks for; the answer says which, or why none."""
        if not os.environ.get(self._config.github.token_env):
            return {"previewing": [], "ignored": f"no GitHub token in ${self._config.github.token_env}: previews could not be posted"}
        if event == "issue_comment":
            return self._accept_command(payload)
        if event != "pull_request":
            return {"previewing": [], "ignored": f"event {event!r} asks for no preview"}
        names, ignored = pull_request_stacks(payload, self._config.stacks)
        if ignored is not None:
            return {"previewing": [], "ignored": ignored}
        permission = pull_request_permission(payload, self._config.previews)
        if not names:
            return {"previewing": [], "ignored": "no stack tracks the pull request's base branch"}
        try:
            pull = pull_request_from_webhook(payload)
        except ValueError as error:
            return {"previewing": [], "ignored": str(error)}
        head = payload["pull_request"]["head"].get("sha")
        if not isinstance(head, str) or not head:
            return {"previewing": [], "ignored": "pull_request.head.sha is missing"}
        if not permission.allowed:
            if permission.tell_author:
                self._pool.submit(self._tell_author, pull, head, permission.reason)
            return {"previewing": [], "ignored": permission.reason}
        base = payload["pull_request"]["base"].get("sha")
        for name in names:
            self._submit(PreviewRequest(name, pull, head, base if isinstance(base, str) else None))
        return {"previewing": names, "because": permission.reason}

    def _accept_command(self, payload: Any) -> dict[str, Any]:
        permission = comment_permission(payload, self._config.previews)
        number = pull_number(payload) if permission.allowed else None
        if not permission.allowed or number is None:
            return {"previewing": [], "ignored": permission.reason if not permission.allowed else "issue.number is missing"}
        try:
            pull = PullRequest.parse(payload["repository"]["full_name"], number)
        except (KeyError, TypeError, ValueError) as error:
            return {"previewing": [], "ignored": f"not an issue_comment payload: {error}"}
        # The event names neither the head nor the base branch: GitHub is asked, off the webhook's thread.
        self._pool.submit(self._preview_commanded, pull, payload["repository"], permission.reason)
        return {"previewing": [], "pending": f"the stacks tracking the base branch of {pull.full_name}#{pull.number}, "
                                             "once GitHub names it", "because": permission.reason}

    def _preview_commanded(self, pull: PullRequest, repository: dict[str, Any], reason: str) -> None:
        github = self._config.github
        try:
            details = fetch_pull_request(pull, token_env=github.token_env, api_url=github.api_url)
        except GitHubCommentError as error:
            log.error("cannot read %s#%d for its preview command: %s", pull.full_name, pull.number,
                      self._stacks.redactor.redact(str(error)))
            return
        names, ignored = pull_request_stacks({"repository": repository, "pull_request": details}, self._config.stacks)
        head, base = details["head"].get("sha"), details["base"].get("sha")
        if ignored is not None or not isinstance(head, str) or not head:
            log.error("cannot preview %s#%d: %s", pull.full_name, pull.number, ignored or "it has no head.sha")
            return
        log.info("previewing %s#%d at %s for %s: %s", pull.full_name, pull.number, head[:12], ", ".join(names) or "no stack",
                 reason)
        for name in names:
            self._submit(PreviewRequest(name, pull, head, base if isinstance(base, str) else None))

    def _tell_author(self, pull: PullRequest, head: str, reason: str) -> None:
        key = (pull.full_name, pull.number, head)
        with self._lock:
            if key in self._told:
                return
            self._told[key] = None
            if len(self._told) > TOLD_KEPT:
                del self._told[next(iter(self._told))]
        github = self._config.github
        body = f"{REFUSAL_MARKER}\n{refusal_comment(reason)}\n\n<sub>Head `{head[:7]}`.</sub>\n"
        try:
            publish_comment(pull, "pull-request/not-previewed", body, token_env=github.token_env, api_url=github.api_url)
        except GitHubCommentError as error:
            log.error("telling %s#%d why it is not previewed failed: %s", pull.full_name, pull.number,
                      self._stacks.redactor.redact(str(error)))

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
            commit = pull_request_head(workspace, request.pull.number, request.head)
        except RefNotFound as error:
            log.error("cannot preview %s#%d: %s", request.pull.full_name, request.pull.number, error, extra=fields)
            self._stacks.metrics.previews.labels(spec.name, "failed").inc()
            return
        run = run_preview(self._config, workspace, self._command, self._stacks.redactor, commit, request.base)
        self._publish(request, run)
        # A parent's units (reconciler/units/): each one the pull request changes or removes, with its own comment.
        known = self._stacks.units.records(spec.name)
        for unit in unit_previews(self._config, workspace, known, self._command, self._stacks.redactor, commit, request.base):
            self._publish(request, unit)

    def _publish(self, request: PreviewRequest, run: PreviewRun) -> None:
        stack = run.summary.stack
        fields = {"stack": stack, "commit": request.head}
        self._stacks.metrics.preview_duration.labels(stack).observe(run.duration_s)
        try:
            published = self._post(request.pull, run)
        except GitHubCommentError as error:
            log.error("posting the preview to %s#%d failed: %s", request.pull.full_name, request.pull.number,
                      self._stacks.redactor.redact(str(error)), extra=fields)
            self._stacks.metrics.previews.labels(stack, "post_failed").inc()
            return
        result = "failed" if run.summary.failed else "previewed"
        self._stacks.metrics.previews.labels(stack, result).inc()
        log.info("%s the preview comment %s (%s)", "created" if published.created else "updated", published.url, result,
                 extra=fields)



def pull_request_head(workspace: PreviewWorkspace, number: int, head: str) -> str:
    """The pull request's head commit in the stack's cache; raises RefNotFound."""
    try:
        return workspace.resolve(head)
    except RefNotFound:
        # Hosts that refuse a fetch by commit still serve the pull request's own ref.
        commit = workspace.resolve(f"refs/pull/{number}/head")
        if commit != head:
            log.info("refs/pull/%d/head is at %s, not %s: using it (a newer push follows)",
                     number, commit[:12], head[:12], extra={"stack": workspace.spec.name})
        return commit
