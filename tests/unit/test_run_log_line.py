"""Each run ends in one log line from the recorder: what ran, on which commit, with what result and why, and
the fields a JSON log reader filters on (reconciler/README.md: the recorder writes "its run log line")."""

from __future__ import annotations

import logging
import re

from reconciler.errors import Temporary

HEAD = "a" * 40


def run_lines(caplog) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "reconciler" and hasattr(r, "result")]


def test_an_applied_run_is_one_info_line_with_its_commit_result_and_changes(scripted, caplog):
    stack = scripted()
    with caplog.at_level(logging.INFO, logger="reconciler"):
        stack.reconciler.reconcile("poll")

    [line] = run_lines(caplog)
    assert line.levelno == logging.INFO
    assert re.fullmatch(r"apply aaaaaaaaaaaa: applied in \d+\.\ds", line.getMessage()), line.getMessage()
    assert (line.stack, line.commit, line.result, line.reason) == ("tiny", HEAD, "applied", None)
    assert line.changes == {"create": 1, "update": 0, "replace": 0, "delete": 0, "same": 0}


def test_a_failed_run_is_a_warning_that_says_why_without_the_secret(scripted, caplog):
    stack = scripted()
    stack.workspace.script("up", Temporary("ProgramError", "ValueError: token hunter2-secret refused", bounded=True))
    with caplog.at_level(logging.INFO, logger="reconciler"):
        stack.reconciler.reconcile("poll")

    [line] = run_lines(caplog)
    assert line.levelno == logging.WARNING
    assert re.fullmatch(r"apply aaaaaaaaaaaa: failed in \d+\.\ds: ValueError: token \[redacted\] refused", line.getMessage())
    assert (line.result, line.reason) == ("failed", "ProgramError")


def test_a_source_failure_names_no_commit(scripted, caplog):
    stack = scripted()
    stack.workspace.script("find_head", Temporary("SourceUnreachable", "git ls-remote failed", delay=15))
    with caplog.at_level(logging.INFO, logger="reconciler"):
        stack.reconciler.reconcile("poll")

    [line] = run_lines(caplog)
    assert line.getMessage().startswith("apply -: failed in ") and line.commit is None


def test_a_listener_that_fails_is_logged_and_the_run_stays_recorded(scripted, caplog):
    failure = RuntimeError("listener down")

    class Listener:
        def run_started(self, spec, run):
            raise failure

        def run_recorded(self, spec, run, state):
            raise failure

    stack = scripted()
    stack.reconciler.recorder.listeners = (Listener(),)
    with caplog.at_level(logging.WARNING, logger="reconciler"):
        done = stack.reconciler.reconcile("poll")

    assert done.outcome.result.value == "applied" and stack.store.runs("tiny")[0]["result"] == "applied"
    warnings = [r.getMessage() for r in caplog.records if "Listener" in r.getMessage()]
    assert warnings == ["tiny: Listener run_started failed: listener down", "tiny: Listener run_recorded failed: listener down"]
    assert all(r.stack == "tiny" for r in caplog.records if "Listener" in r.getMessage())
