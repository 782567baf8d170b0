"""A removed unit's series leave /metrics at once, not when the service restarts; every other stack's stay.

First on a registry of its own, then through the service on the real engine: a unit whose folder a commit
deletes is destroyed (no deletion guard), and /metrics stops listing it.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from reconciler.status.model import READY, Condition, Result, RunKind, RunOutcome, StackState
from reconciler.telemetry.metrics import Metrics
from testsupport.reconciler_testing import TINY_PROJECT, free_port, tiny_stack, write_config
from testsupport.tiny_units import PROGRAM, STACK_FILE, applied_commit, objects

COMMIT = "a" * 40


def series(metrics: Metrics, stack: str) -> list[str]:
    """The exposition lines of one stack, as /metrics serves them."""
    return [line for line in metrics.render().decode().splitlines() if f'stack="{stack}"' in line]


def runs_of(metrics: Metrics, stack: str) -> None:
    """Everything the recorder and the previews write for a stack: runs, durations, state, commit, previews."""
    metrics.declare(stack)
    now = time.time()
    metrics.record(RunOutcome(stack, COMMIT, "test", RunKind.APPLY, Result.APPLIED, now - 2, now))
    metrics.record(RunOutcome(stack, COMMIT, "test", RunKind.DRIFT, Result.DRIFTED, now - 1, now))
    metrics.set_state(StackState(stack, failures=2, conditions=[Condition(READY, True, "Succeeded")]))
    metrics.set_commit(stack, COMMIT)
    metrics.polls.labels(stack).inc()
    metrics.previews.labels(stack, "previewed").inc()
    metrics.preview_duration.labels(stack).observe(3.0)


def test_forgetting_a_stack_removes_every_series_it_had_and_leaves_the_others():
    metrics = Metrics()
    runs_of(metrics, "tiny.web")
    runs_of(metrics, "tiny.api")
    others = series(metrics, "tiny.api")
    families = {line.split("{", 1)[0] for line in series(metrics, "tiny.web")}
    assert families >= {
        "reconciler_runs_total", "reconciler_run_duration_seconds_bucket", "reconciler_last_success_timestamp_seconds",
        "reconciler_drifted_resources", "reconciler_commit_info", "reconciler_stack_ready", "reconciler_stack_failures",
        "reconciler_polls_total", "reconciler_pull_request_previews_total", "reconciler_pull_request_preview_duration_seconds_count",
    }, "every labelled metric has a series of the stack before"

    metrics.forget("tiny.web")

    assert series(metrics, "tiny.web") == []
    assert series(metrics, "tiny.api") == others


def test_a_stack_made_again_under_a_forgotten_name_starts_from_zero():
    metrics = Metrics()
    runs_of(metrics, "tiny.web")
    metrics.forget("tiny.web")

    metrics.declare("tiny.web")
    metrics.set_commit("tiny.web", COMMIT)

    lines = series(metrics, "tiny.web")
    assert 'reconciler_runs_total{result="applied",stack="tiny.web"} 0.0' in lines
    assert f'reconciler_commit_info{{commit="{COMMIT}",stack="tiny.web"}} 1.0' in lines


@pytest.mark.e2e
def test_the_service_drops_a_removed_units_series_from_metrics(remote, tmp_path: Path, engine_env, start_service):
    remote.commit("a project in three units", {
        **TINY_PROJECT, "__main__.py": PROGRAM, "Pulumi.dev.yaml": STACK_FILE,
        **objects("platform", "namespace"), **objects("web", "page"), **objects("cache", "redis"),
    })
    port = free_port()
    config = write_config(tmp_path / "reconciler.yaml", [tiny_stack(remote, tmp_path / "backend")], listen=f"127.0.0.1:{port}")
    service = start_service(config, engine_env, port)

    def exposed(stack: str) -> list[str]:
        status, body = service.get("/metrics")
        assert status == 200, body
        return [line for line in body.decode().splitlines() if f'stack="{stack}"' in line]

    first = remote.head()
    service.wait_until(lambda: all(applied_commit(service, f"tiny.{unit}") == first for unit in ("platform", "web", "cache")), 180,
                       "every unit applied")
    assert 'reconciler_stack_ready{stack="tiny.cache"} 1.0' in exposed("tiny.cache")

    remote.commit("the cache goes", {"manifests/cache": None})
    service.wait_until(lambda: not (tmp_path / "backend" / ".pulumi" / "stacks" / "tiny" / "dev.cache.json").exists(), 180,
                       "the removed unit's stack destroyed")

    service.wait_until(lambda: exposed("tiny.cache") == [], 30, "the removed unit's series gone from /metrics")
    assert 'reconciler_stack_ready{stack="tiny.web"} 1.0' in exposed("tiny.web")
    assert any(line.startswith("reconciler_runs_total{") for line in exposed("tiny.web"))
    assert service.stop() == 0

