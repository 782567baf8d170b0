"""Review stacks in the service: pull request events and a poll decide, a small pool applies and destroys.

Each review stack has one worker at a time; an event for a stack that is busy
replaces the one waiting behind it, so only the latest head is applied next,
as previews do. The poll asks GitHub about every review stack the store holds
(its state, head and labels), so a missed webhook, a restart or a TTL running
out are all caught within the base stack's resync interval.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Optional

from reconciler.preview.github_comments import GitHubCommentError
from reconciler.preview.pull_request import PullRequest, pull_request_from_webhook
from reconciler.preview.pull_request_api import fetch_pull_request
from reconciler.preview.workspace import PreviewWorkspace
from reconciler.service.github_webhook import pull_request_stacks
from reconciler.service.pull_request_previews import pull_request_head
from reconciler.settings import StackSpec
from reconciler.stack_set import STORE_FILE, StackSet, pulumi_command

from .comment import SharedComments
from .engine import ReviewStackEngine
from .lifecycle import Action, Decision, PullRequestState, decide, decide_without_pull
from .naming import REVIEW_STACKS_DIR, ReviewTarget, review_target
from .record import DESTROY_FAILED, DESTROYING, EXPIRED, FAILED, READY, RECONCILING, ReviewStack
from .store import ReviewStackStore

log = logging.getLogger("reconciler.review")
DESTROYED = "Destroyed"  # what the comment says last; the record is gone
MESSAGE_KEPT = 4_000


@dataclass(frozen=True)
class ReviewJob:
    base: str
    pull: PullRequest
    state: Optional[PullRequestState]  # None: GitHub could not be asked; only the TTL is judged

    def name(self, stacks: StackSet) -> str:
        return review_target(stacks.config.stack(self.base), self.pull.number, stacks.config.state_dir).name


class ReviewStacks:
    def __init__(self, stacks: StackSet, workers: int) -> None:
        self._stacks = stacks
        self._config = stacks.config
        self.store = ReviewStackStore(self._config.state_dir / STORE_FILE)
        secrets = (*self._config.secrets(), os.environ.get(self._config.github.token_env, ""))
        self.comments = SharedComments(self._config, self.store, tuple(value for value in secrets if value))
        self._engine = ReviewStackEngine(self._config, pulumi_command(self._config), stacks.redactor)
        self._bases = [spec for spec in self._config.stacks if spec.review_stacks is not None]
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="review")
        self._lock = threading.Lock()
        self._running: set[str] = set()
        self._waiting: dict[str, ReviewJob] = {}
        self._stop = threading.Event()
        self._poller = threading.Thread(target=self._poll_loop, name="review-poll", daemon=True)

    @property
    def enabled(self) -> bool:
        return bool(self._bases)

    # Events

    def accept(self, payload: Any) -> dict[str, Any]:
        """A `pull_request` event: the review stacks it concerns are queued for a decision."""
        names, ignored = pull_request_stacks(payload, self._bases)
        if ignored is not None or not names:
            return {"queued": [], "ignored": ignored or "no stack with review_stacks tracks the pull request's base branch"}
        try:
            pull = pull_request_from_webhook(payload)
            label = payload.get("label") if isinstance(payload.get("label"), dict) else {}
            state = PullRequestState.from_payload(payload["pull_request"], str(payload.get("action")),
                                                  pull.full_name, label.get("name"))
        except (KeyError, TypeError, ValueError) as error:
            return {"queued": [], "ignored": f"not a pull_request payload: {error}"}
        jobs = [ReviewJob(name, pull, state) for name in names]
        for job in jobs:
            self._submit(job)
        return {"queued": [job.name(self._stacks) for job in jobs]}

    def status(self) -> list[dict[str, Any]]:
        return [record.as_status() for record in self.store.all()]

    # Running

    def start(self) -> None:
        for record in self._owned():
            # The service owns each review stack's backend alone: a lock left there is a dead process's.
            target = self._target(record)
            for lock in (target.backend / ".pulumi" / "locks").glob("**/*.json"):
                lock.unlink(missing_ok=True)
        self._poller.start()

    def close(self) -> None:
        self._stop.set()
        if self._poller.is_alive():
            self._poller.join()
        self._pool.shutdown(wait=True, cancel_futures=True)
        self.store.close()

    def _poll_loop(self) -> None:
        interval = min(spec.resync_interval for spec in self._bases)
        while not self._stop.is_set():
            self.poll()
            self._stop.wait(interval)

    def poll(self) -> None:
        github = self._config.github
        for record in self._owned():
            pull = PullRequest.parse(record.repository, record.number)
            try:
                details = fetch_pull_request(pull, token_env=github.token_env, api_url=github.api_url)
                state: Optional[PullRequestState] = PullRequestState.from_payload(details, "poll", pull.full_name)
            except (GitHubCommentError, KeyError, TypeError) as error:
                log.warning("cannot read %s#%d for its review stack: %s", pull.full_name, pull.number,
                            self._stacks.redactor.redact(str(error)), extra={"stack": record.name})
                state = None
            self._submit(ReviewJob(record.base, pull, state))

    def _submit(self, job: ReviewJob) -> None:
        name = job.name(self._stacks)
        with self._lock:
            if name in self._running:
                self._waiting[name] = job
                return
            self._running.add(name)
        self._pool.submit(self._work, name, job)

    def _work(self, name: str, job: Optional[ReviewJob]) -> None:
        while job is not None:
            try:
                self._reconcile(job)
            except Exception:  # noqa: BLE001 - one review stack's bug must not stop the others
                log.exception("review stack %s failed unexpectedly", name, extra={"stack": name})
            with self._lock:
                job = self._waiting.pop(name, None)
                if job is None:
                    self._running.discard(name)

    def _reconcile(self, job: ReviewJob) -> None:
        base = self._config.stack(job.base)
        target = review_target(base, job.pull.number, self._config.state_dir)
        record = self.store.get(target.name)
        settings = base.review_stacks
        assert settings is not None, "jobs are made for stacks with review_stacks only"
        now = time.time()
        if job.state is None:
            decision = decide_without_pull(record, now)
        else:
            decision = decide(job.state, settings, self._config.previews, record, now)
        fields = {"stack": target.name}
        if decision.action is Action.NOTHING:
            log.info("review stack %s: nothing to do (%s)", target.name, decision.reason, extra=fields)
            return
        log.info("review stack %s: %s (%s)", target.name, decision.action.value, decision.reason, extra=fields)
        if decision.action is Action.APPLY:
            assert job.state is not None, "an apply needs the pull request's head"
            self._apply(base, target, job, record, job.state.head, decision)
        elif record is not None and decision.action in (Action.DESTROY, Action.EXPIRE):
            self._destroy(base, target, record, decision)
        elif record is not None:
            self.store.delete(record.name)

    def _apply(self, base: StackSpec, target: ReviewTarget, job: ReviewJob, record: Optional[ReviewStack], head: str,
               decision: Decision) -> None:
        now = time.time()
        settings = base.review_stacks
        assert settings is not None
        if record is None or record.status == EXPIRED:
            record = ReviewStack(
                name=target.name, base=base.name, repository=job.pull.full_name, number=job.pull.number,
                pulumi_stack=target.pulumi_stack, namespace=target.namespace, head=head, status=RECONCILING,
                message=decision.reason, created_at=now, expires_at=now + settings.ttl_s, updated_at=now,
                preview_body=(record.preview_body if record else None) or self.comments.preview_for(base.name, job.pull),
            )
        self._set(record, RECONCILING, decision.reason, head=head)
        try:
            commit = pull_request_head(PreviewWorkspace(base, self._config.state_dir), job.pull.number, head)
            applied = self._engine.apply(base, target, commit)
        except Exception as error:  # noqa: BLE001 - any failure is the review stack's status, told on the pull request
            self._set(record, FAILED, self._failure(error))
            return
        record.applied_commit, record.url = commit, applied.url
        self._set(record, READY, f"applied {commit[:12]}")

    def _destroy(self, base: StackSpec, target: ReviewTarget, record: ReviewStack, decision: Decision) -> None:
        self._set(record, DESTROYING, decision.reason)
        try:
            self._engine.destroy(base, target, record.applied_commit or record.head)
        except Exception as error:  # noqa: BLE001 - told on the pull request; the poll tries again
            self._set(record, DESTROY_FAILED, self._failure(error))
            return
        if decision.action is Action.EXPIRE:
            record.applied_commit, record.url = None, None
            self._set(record, EXPIRED, f"destroyed: {decision.reason}")
            return
        self.store.delete(record.name)
        record.status, record.message, record.updated_at = DESTROYED, f"destroyed: {decision.reason}", time.time()
        log.info("review stack %s is %s", record.name, record.message, extra={"stack": record.name})
        self._post(record)

    def _failure(self, error: Exception) -> str:
        """The error as the record keeps it: redacted, and its end only (the engine's summary is last)."""
        text = self._stacks.redactor.redact(f"{type(error).__name__}: {error}")
        return text if len(text) <= MESSAGE_KEPT else "..." + text[-MESSAGE_KEPT:]

    def _set(self, record: ReviewStack, status: str, message: str, head: Optional[str] = None) -> None:
        record.status, record.message, record.updated_at = status, message, time.time()
        if head is not None:
            record.head = head
        self.store.save(record)
        log.info("review stack %s is %s: %s", record.name, status, message.strip().splitlines()[-1] if message.strip() else "",
                 extra={"stack": record.name})
        self._post(record)

    def _post(self, record: ReviewStack) -> None:
        try:
            self.comments.post_review(record)
        except GitHubCommentError as error:
            log.error("posting review stack %s to %s#%d failed: %s", record.name, record.repository, record.number,
                      self._stacks.redactor.redact(str(error)), extra={"stack": record.name})

    def _owned(self) -> list[ReviewStack]:
        """The stored review stacks whose base stack still has review_stacks in the config."""
        bases = {spec.name for spec in self._bases}
        records = self.store.all()
        for record in records:
            if record.base not in bases:
                log.warning("review stack %s: its base stack %s no longer has review_stacks in %s; it is left as it is "
                            "(destroy it with `pulumi destroy` in %s)", record.name, record.base, self._config.path,
                            self._target_root(record), extra={"stack": record.name})
        return [record for record in records if record.base in bases]

    def _target_root(self, record: ReviewStack) -> str:
        return str(self._config.state_dir / REVIEW_STACKS_DIR / record.name)

    def _target(self, record: ReviewStack) -> ReviewTarget:
        return review_target(self._config.stack(record.base), record.number, self._config.state_dir)
