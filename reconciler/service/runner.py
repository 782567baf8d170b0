"""The service: the stacks' reconcilers, their scheduler, the HTTP endpoints, and a clean stop on SIGTERM."""

from __future__ import annotations

import logging
import os
import signal
import threading
from typing import Any, Optional

from reconciler.coordination.replica import Replica
from reconciler.preview.github_comments import PublishedComment
from reconciler.preview.markdown import render_markdown
from reconciler.preview.pull_request import PullRequest
from reconciler.preview.run import PreviewRun
from reconciler.promotion import downstreams
from reconciler.reconcile import Pass
from reconciler.review.service import ReviewStacks
from reconciler.service.http_api import HttpApi
from reconciler.service.pull_request_previews import PullRequestPreviews
from reconciler.service.scheduler import FALLBACK_DELAY, Scheduler
from reconciler.settings import ConfigError
from reconciler.stack_set import LISTENER_FLUSH_S, StackSet
from reconciler.status.report import service_status
from reconciler.units.unit_set import PlanChange

log = logging.getLogger("reconciler")
PROMOTION_TRIGGER = "promotion"  # a pass asked for because the stack's upstream recorded a run
UNITS_TRIGGER = "units"  # a unit's pass asked for because its plan changed or a stack it waits for recorded a run


class ReconcilerService:
    def __init__(self, stacks: StackSet) -> None:
        self.stacks = stacks
        self.config = stacks.config
        self._downstreams = downstreams(self.config.stacks)
        # One of several replicas: a stack runs here only while this replica holds its Lease.
        self.replica: Optional[Replica] = None
        if self.config.coordination is not None:
            self.replica = Replica(stacks, lambda names, reason: self.scheduler.trigger(names, reason))
        self.scheduler = Scheduler(
            list(stacks.reconcilers),
            self.replica.gate(self._run_stack) if self.replica else self._run_stack,
            self.config.workers,
            on_scheduled=self._scheduled,
        )
        stacks.on_units_changed = self._units_changed
        self.review_stacks = ReviewStacks(stacks, self.config.workers)
        post = self._post_with_review_stack if self.review_stacks.enabled else None
        self.previews = PullRequestPreviews(stacks, self.config.workers, post)
        self._stop = threading.Event()

    # What the HTTP endpoints ask

    def healthy(self) -> bool:
        """The process works: its scheduler, once started, is still running."""
        return not self.scheduler.started() or self.scheduler.alive()

    def ready(self) -> bool:
        """Runs are being scheduled and the status store answers (crash recovery is each stack's first step)."""
        if not self.scheduler.alive() or (self.replica is not None and not self.replica.in_touch()):
            return False
        self.stacks.store.stack_state(self.config.stacks[0].name)
        return True

    def status(self) -> dict[str, Any]:
        status = service_status(self.config, self.stacks.store, self.stacks.redactor, self.scheduler.next_due, self.stacks.units.store)
        if self.review_stacks.enabled:
            status["review_stacks"] = self.stacks.redactor.redact_data(self.review_stacks.status())
        if self.replica is not None:
            status["coordination"] = self.replica.status()
        return status

    def metrics(self) -> bytes:
        if self.replica is not None:
            self.replica.update_metrics()
        return self.stacks.metrics.render()

    def trigger(self, stacks: list[str], reason: str) -> None:
        if self.replica is not None:
            self.replica.forward(stacks, reason)
        self.scheduler.trigger(stacks, reason)

    def preview_pull_request(self, event: str, payload: Any) -> dict[str, Any]:
        answer = self.previews.accept(event, payload)
        if event == "pull_request" and self.review_stacks.enabled:
            answer["review_stacks"] = self.review_stacks.accept(payload)
        return answer

    def _post_with_review_stack(self, pull: PullRequest, run: PreviewRun) -> PublishedComment:
        return self.review_stacks.comments.post_preview(run.summary.stack, pull, render_markdown(run.summary, run.secrets))

    # Running

    def _run_stack(self, name: str, reason: str) -> Pass:
        reconciler = self.stacks.reconcilers.get(name)
        if reconciler is None:  # a unit removed since it was queued
            self.scheduler.remove(name)
            return Pass(None, FALLBACK_DELAY)
        done = reconciler.reconcile(reason)
        if name not in self.stacks.reconcilers:  # the pass removed the unit's stack
            self.scheduler.remove(name)
            return done
        if any(spec.name == name for spec in self.stacks.specs):
            self.stacks.plan_units(name)
        if done.outcome is not None and done.outcome.result.in_sync:
            # A stack that promotes from this one, or a unit that waits for it, may be waiting for exactly this
            # run: look at it now, not at its next poll.
            self.scheduler.trigger(self._downstreams.get(name, []), PROMOTION_TRIGGER)
            self.scheduler.trigger(self.stacks.waiting_on(name), UNITS_TRIGGER)
        return done

    def _units_changed(self, change: PlanChange) -> None:
        """A parent's new plan: new units are scheduled (and shared by the replicas), removed ones run their removal now."""
        if self.replica is not None:
            self.replica.units_changed(change)
        self.scheduler.add(change.added, UNITS_TRIGGER)
        self.scheduler.trigger([*change.removed, *change.restored], UNITS_TRIGGER)

    def _scheduled(self, name: str, at: float) -> None:
        recorder = self.stacks.recorders.get(name)
        if recorder is not None:
            recorder.scheduled(at)

    def serve(self) -> int:
        try:
            http = HttpApi(self, self.config.listen_host, self.config.listen_port)
        except OSError as error:
            address = f"{self.config.listen_host}:{self.config.listen_port}"
            problem = f"listen: cannot listen on {address} ({error.strerror}); free it or change `listen:`"
            raise ConfigError(str(self.config.path), [problem]) from None
        http.start()
        log.info("listening on http://%s:%d (status, metrics, /hooks/github)", self.config.listen_host, http.port)
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, self._on_signal)
        try:
            if self.replica is not None:
                self.replica.start()
            self.scheduler.start()
            if self.review_stacks.enabled:
                self.review_stacks.start()
            log.info("keeping %d stack(s) in sync", len(self.config.stacks))
            self._stop.wait()
            log.info("stopping: waiting for running updates to end (send the signal again to exit at once)")
            self.scheduler.stop()
            if self.replica is not None:
                self.replica.close()  # the others take the stacks over at once
            self.stacks.flush_listeners(LISTENER_FLUSH_S)
        finally:
            http.close()
            self.previews.close()
            self.review_stacks.close()
            self.stacks.store.close()
        return 0

    def _on_signal(self, signum: int, frame: Any) -> None:
        if self._stop.is_set():
            os._exit(128 + signum)
        self._stop.set()
