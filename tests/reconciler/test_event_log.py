"""The fold from real SDK engine events to what a run records: changed, doomed (with the fields forcing a
replacement), what a refresh found, errors."""

from __future__ import annotations

import logging

import pytest

from reconciler.engine.event_log import EventLog
from reconciler.telemetry.redaction import Redactor
from testsupport.engine_events import diagnostic, done, failed, pre, summary, urn

SECRET = "s3cr3t-token-value"


@pytest.fixture
def events() -> EventLog:
    return EventLog("up", "tiny", "a" * 40, Redactor([SECRET]))


def test_planned_steps_skip_unchanged_resources(events):
    for event in (pre("create", "web"), pre("same", "db"), pre("update", "api")):
        events.on_event(event)
    assert events.changed() == [{"urn": urn("web"), "op": "create"}, {"urn": urn("api"), "op": "update"}]


def test_deleted_and_replaced_resources_are_doomed_with_the_fields_forcing_it(events):
    events.on_event(pre("delete", "old"))
    events.on_event(pre("replace", "web", keys=["spec", "metadata", "__defaults"]))
    # A replacement also announces its create-replacement and delete-replaced steps: one entry per resource.
    events.on_event(pre("create-replacement", "web", keys=["spec"]))
    events.on_event(pre("delete-replaced", "web"))
    events.on_event(pre("update", "api", keys=["image"]))
    events.on_event(pre("create", "new"))
    assert events.doomed() == [
        {"urn": urn("old"), "op": "delete"},
        {"urn": urn("web"), "op": "replace", "fields": "metadata, spec"},
    ]


def test_a_replacement_announced_by_its_create_step_is_doomed_as_a_replacement(events):
    events.on_event(pre("create-replacement", "web", keys=["spec"]))
    assert events.doomed() == [{"urn": urn("web"), "op": "replace", "fields": "spec"}]


def test_completed_steps_say_what_a_refresh_found(events):
    events.on_event(done("same", "db"))
    events.on_event(done("update", "web"))
    events.on_event(done("delete", "gone"))
    assert events.changed() == [{"urn": urn("web"), "op": "update"}, {"urn": urn("gone"), "op": "delete"}]


def test_failed_resources_and_summary_are_kept(events):
    events.on_event(failed("create", "web"))
    events.on_event(summary({"create": 2, "same": 5}))
    assert events.failed == [urn("web")]
    assert events.resource_changes == {"create": 2, "same": 5}


def test_error_diagnostics_are_the_error_text(events, caplog):
    caplog.set_level(logging.DEBUG, logger="reconciler.engine")
    events.on_event(diagnostic("\x1b[31mmanifests/web.yaml: Deployment web: bad image\x1b[0m", name="web"))
    events.on_event(diagnostic("a deprecation warning", severity="warning"))
    events.on_event(diagnostic("just info", severity="info"))
    events.on_event(diagnostic("   ", severity="error"))
    assert events.errors == ["manifests/web.yaml: Deployment web: bad image"]
    assert events.error_text(RuntimeError("the exception")) == "manifests/web.yaml: Deployment web: bad image"
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warnings == ["a deprecation warning"]


def test_without_diagnostics_the_exception_is_the_error_text(events):
    assert events.error_text(RuntimeError("\x1b[1mcommand failed\x1b[0m\n")) == "command failed"


def test_the_error_text_is_redacted(events):
    events.on_event(diagnostic(f"could not log in with {SECRET}"))
    text = events.error_text(RuntimeError("x"))
    assert SECRET not in text
    assert "could not log in with" in text


def test_a_long_error_keeps_its_end(events):
    # The end names the file and the exception; the start is the least useful part.
    head, tail = "x" * 10_000, "Error: manifests/web.yaml: invalid"
    events.on_event(diagnostic(head + tail))
    text = events.error_text(RuntimeError("x"))
    assert text.endswith(tail)
    assert text.startswith("[")
    assert "characters cut]" in text.splitlines()[0]
    assert len(text) < 7000  # a status row and a log line stay readable


def test_engine_output_lines_are_logged_without_escapes(events, caplog):
    caplog.set_level(logging.INFO, logger="reconciler.engine")
    events.on_output("\x1b[32m+ created\x1b[0m")
    events.on_output("   ")
    messages = [r for r in caplog.records if getattr(r, "source", None) == "engine-output"]
    assert [r.getMessage() for r in messages] == ["+ created"]
    assert messages[0].stack == "tiny" and messages[0].operation == "up"
