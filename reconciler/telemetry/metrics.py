"""Prometheus metrics of the reconciler, on a registry of its own (no process-wide globals)."""

from __future__ import annotations

import threading

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from reconciler.status.model import READY, Result, RunKind, RunOutcome, StackState

# Runs span from a no-op poll (under a second) to a full rollout (many minutes).
PREVIEW_RESULTS = ("previewed", "failed", "post_failed")
DURATION_BUCKETS = (0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300, 600, 1200, 1800, 3600)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.runs = Counter("reconciler_runs", "Reconcile runs, by stack and result.", ["stack", "result"], registry=self.registry)
        self.duration = Histogram(
            "reconciler_run_duration_seconds", "Wall time of a reconcile run.", ["stack", "kind"],
            buckets=DURATION_BUCKETS, registry=self.registry,
        )
        self.last_success = Gauge(
            "reconciler_last_success_timestamp_seconds", "Unix time the stack last ended in sync (applied, skipped or remediated).",
            ["stack"], registry=self.registry,
        )
        self.drifted = Gauge(
            "reconciler_drifted_resources", "Resources that differed from the stack's state at the last drift check.",
            ["stack"], registry=self.registry,
        )
        self.commit_info = Gauge(
            "reconciler_commit_info", "The commit last applied to the stack (value 1).", ["stack", "commit"], registry=self.registry,
        )
        self.ready = Gauge(
            "reconciler_stack_ready", "1 when the stack's Ready condition is True (applied, in sync, not drifted).",
            ["stack"], registry=self.registry,
        )
        self.failures = Gauge(
            "reconciler_stack_failures", "Failed attempts of the stack's desired state in a row.", ["stack"], registry=self.registry,
        )
        self.polls = Counter("reconciler_polls", "Head checks of a stack's branch.", ["stack"], registry=self.registry)
        self.previews = Counter(
            "reconciler_pull_request_previews", "Pull request previews, by stack and result (previewed, failed, post_failed).",
            ["stack", "result"], registry=self.registry,
        )
        self.preview_duration = Histogram(
            "reconciler_pull_request_preview_duration_seconds", "Wall time of a pull request preview.", ["stack"],
            buckets=DURATION_BUCKETS, registry=self.registry,
        )
        # Every metric labelled by stack: what `forget` removes.
        self._per_stack = (self.runs, self.duration, self.last_success, self.drifted, self.commit_info, self.ready,
                           self.failures, self.polls, self.previews, self.preview_duration)
        self._commits: dict[str, str] = {}
        self._lock = threading.Lock()

    def declare(self, stack: str) -> None:
        """Zero series for a configured stack, so dashboards see it before its first run."""
        for result in Result:
            self.runs.labels(stack, result.value)
        self.drifted.labels(stack)
        self.polls.labels(stack)
        for preview_result in PREVIEW_RESULTS:
            self.previews.labels(stack, preview_result)

    def record(self, outcome: RunOutcome) -> None:
        self.runs.labels(outcome.stack, outcome.result.value).inc()
        self.duration.labels(outcome.stack, outcome.kind.value).observe(outcome.duration_s)
        if outcome.result.in_sync:
            self.last_success.labels(outcome.stack).set(outcome.finished_at)
        if outcome.kind is RunKind.DRIFT:
            self.drifted.labels(outcome.stack).set(len(outcome.resources) if outcome.result is Result.DRIFTED else 0)

    def set_state(self, state: StackState) -> None:
        ready = state.condition(READY)
        self.ready.labels(state.name).set(1 if ready is not None and ready.status else 0)
        self.failures.labels(state.name).set(state.failures)

    def set_commit(self, stack: str, commit: str) -> None:
        with self._lock:
            previous = self._commits.get(stack)
            if previous == commit:
                return
            if previous is not None:
                self.commit_info.remove(stack, previous)
            self.commit_info.labels(stack, commit).set(1)
            self._commits[stack] = commit

    def forget(self, stack: str) -> None:
        """Removes every series of a stack that is gone (a removed unit): /metrics stops listing it before a restart."""
        with self._lock:
            self._commits.pop(stack, None)
            for metric in self._per_stack:
                metric.remove_by_labels({"stack": stack})

    def render(self) -> bytes:
        return generate_latest(self.registry)
