"""The scheduler on real threads: intervals, triggers during a run, one run per stack at a time, bounded workers."""

from __future__ import annotations

import threading
import time
from collections import defaultdict

from reconciler.reconcile import Pass
from reconciler.service.scheduler import Scheduler


class Runs:
    """Records each run of each stack; every run takes `seconds`."""

    def __init__(self, seconds: float, next_in: float = 3600.0) -> None:
        self.seconds = seconds
        self.next_in = next_in
        self.lock = threading.Lock()
        self.reasons: dict[str, list[str]] = defaultdict(list)
        self.running: dict[str, int] = defaultdict(int)
        self.most_at_once = 0
        self.most_of_one_stack = 0

    def __call__(self, name: str, reason: str) -> Pass:
        with self.lock:
            self.reasons[name].append(reason)
            self.running[name] += 1
            self.most_of_one_stack = max(self.most_of_one_stack, self.running[name])
            self.most_at_once = max(self.most_at_once, sum(self.running.values()))
        time.sleep(self.seconds)
        with self.lock:
            self.running[name] -= 1
        return Pass(None, self.next_in)


def wait_for(predicate, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def test_every_stack_runs_at_start_then_at_its_interval():
    runs = Runs(0.0, next_in=0.2)
    scheduler = Scheduler(["a", "b"], runs, workers=2)
    scheduler.start()
    try:
        wait_for(lambda: len(runs.reasons["a"]) >= 3 and len(runs.reasons["b"]) >= 3)
    finally:
        scheduler.stop()
    assert runs.reasons["a"][:3] == ["startup", "poll", "poll"]


def test_a_trigger_during_a_run_runs_the_stack_again_right_after_never_alongside():
    runs = Runs(0.3)
    scheduler = Scheduler(["a"], runs, workers=4)
    scheduler.start()
    try:
        wait_for(lambda: runs.running["a"] == 1)
        scheduler.trigger(["a"], "webhook")
        scheduler.trigger(["a"], "webhook")
        wait_for(lambda: len(runs.reasons["a"]) == 2)
        wait_for(lambda: runs.running["a"] == 0)
        time.sleep(0.2)
    finally:
        scheduler.stop()
    assert runs.reasons["a"] == ["startup", "webhook"], "two triggers during one run make one more run"
    assert runs.most_of_one_stack == 1


def test_a_trigger_for_an_idle_stack_runs_it_at_once():
    runs = Runs(0.0)
    scheduler = Scheduler(["a", "b"], runs, workers=2)
    scheduler.start()
    try:
        wait_for(lambda: len(runs.reasons["a"]) == 1 and len(runs.reasons["b"]) == 1)
        # The run is counted as it starts; its next due time is set as it ends.
        wait_for(lambda: scheduler.next_due("a") > 3000)
        scheduler.trigger(["a", "unknown"], "webhook")
        wait_for(lambda: len(runs.reasons["a"]) == 2)
    finally:
        scheduler.stop()
    assert runs.reasons["a"] == ["startup", "webhook"] and runs.reasons["b"] == ["startup"]


def test_stacks_run_in_parallel_up_to_the_number_of_workers():
    runs = Runs(0.2)
    scheduler = Scheduler([f"s{n}" for n in range(6)], runs, workers=2)
    scheduler.start()
    try:
        wait_for(lambda: sum(len(r) for r in runs.reasons.values()) == 6)
        wait_for(lambda: sum(runs.running.values()) == 0)
    finally:
        scheduler.stop()
    assert runs.most_at_once == 2


def test_a_stack_whose_run_raises_is_tried_again_and_others_go_on():
    calls = defaultdict(int)

    def run(name: str, reason: str) -> Pass:
        calls[name] += 1
        if name == "bad":
            raise RuntimeError("a bug")
        return Pass(None, 0.05)

    scheduler = Scheduler(["bad", "good"], run, workers=2)
    scheduler.start()
    try:
        wait_for(lambda: calls["good"] >= 5)
        assert scheduler.alive()
    finally:
        scheduler.stop()
    assert calls["bad"] == 1, "retried only after the fallback delay"
