"""preview, up and drift fold the engine's events into reports; a failure carries the engine's diagnostics.

The stack is a stand-in that streams real SDK events through the callbacks, as the Automation API does.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any, Callable

import pytest
from pulumi import automation as auto

from reconciler.engine import operations
from reconciler.engine.encryption_salt import salt_from_state
from reconciler.engine.operations import OperationFailed
from reconciler.status.model import ChangeCounts
from reconciler.telemetry.redaction import Redactor
from testsupport.engine_events import diagnostic, done, pre, summary, urn

COMMIT = "0123456789abcdef" + "0" * 24


class StreamingStack:
    """Calls on_event with the scripted events, then returns `result` or raises `error`."""

    def __init__(self, events: list, result: Any = None, error: Exception | None = None) -> None:
        self.events, self.result, self.error = events, result, error
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def _operation(self, name: str) -> Callable[..., Any]:
        def call(**kwargs: Any) -> Any:
            self.calls.append((name, kwargs))
            for event in self.events:
                kwargs["on_event"](event)
            kwargs["on_output"]("engine output line")
            if self.error is not None:
                raise self.error
            return self.result

        return call

    def __getattr__(self, name: str) -> Callable[..., Any]:
        if name in ("preview", "up", "preview_refresh"):
            return self._operation(name)
        raise AttributeError(name)


class Session:
    def __init__(self, stack: StreamingStack) -> None:
        self.spec = SimpleNamespace(name="tiny", env=(), checkpoints="always")
        self.stack = stack
        self.after_runs = 0

    def after_run(self) -> None:
        self.after_runs += 1


def test_preview_reports_changes_and_what_it_would_delete():
    stack = StreamingStack(
        [pre("create", "new"), pre("delete", "old"), pre("replace", "web", keys=["spec"]), pre("same", "db")],
        result=SimpleNamespace(change_summary={"create": 1, "delete": 1, "replace": 1, "same": 1}),
    )
    session = Session(stack)
    report = operations.preview(session, COMMIT, Redactor([]), refresh=True)
    assert report.changes == ChangeCounts(create=1, delete=1, replace=1, same=1)
    assert report.doomed == [{"urn": urn("old"), "op": "delete"}, {"urn": urn("web"), "op": "replace", "fields": "spec"}]
    assert [entry["urn"] for entry in report.resources] == [urn("new"), urn("old"), urn("web")]
    assert stack.calls[0][1]["refresh"] is True
    assert session.after_runs == 1


def test_up_counts_from_the_summary_event_and_names_the_commit():
    stack = StreamingStack([pre("update", "web"), summary({"update": 1, "same": 4})], result=SimpleNamespace(summary=None))
    report = operations.up(Session(stack), COMMIT, Redactor([]))
    assert report.changes == ChangeCounts(update=1, same=4)
    name, kwargs = stack.calls[0]
    assert name == "up"
    assert kwargs["message"] == "reconciler: 0123456789ab"
    assert kwargs["show_secrets"] is False


def test_up_falls_back_to_the_update_summary():
    result = SimpleNamespace(summary=SimpleNamespace(resource_changes={"create": 3}))
    assert operations.up(Session(StreamingStack([], result=result)), COMMIT, Redactor([])).changes == ChangeCounts(create=3)


def test_drift_counts_what_the_refresh_found_not_its_refresh_steps():
    stack = StreamingStack(
        [pre("refresh", "web"), pre("refresh", "db"), pre("refresh", "gone"), pre("refresh", "cache"),
         done("update", "web"), done("refresh", "db"), done("delete", "gone"), done("same", "cache"), summary({"refresh": 4})],
    )
    report = operations.drift(Session(stack), COMMIT, Redactor([]))
    assert report.changes == ChangeCounts(update=1, delete=1)
    assert report.resources == [{"urn": urn("web"), "op": "update"}, {"urn": urn("gone"), "op": "delete"}]
    assert stack.calls[0][0] == "preview_refresh"


def test_a_failed_operation_carries_the_engine_diagnostics_redacted():
    cause = auto.errors.RuntimeError(auto.CommandResult(stdout="", stderr="exit status 1", code=1))
    stack = StreamingStack([diagnostic("manifests/web.yaml: token hunter2-secret refused")], error=cause)
    session = Session(stack)
    with pytest.raises(OperationFailed) as raised:
        operations.up(session, COMMIT, Redactor(["hunter2-secret"]))
    assert raised.value.cause is cause
    assert raised.value.operation == "up"
    assert "manifests/web.yaml" in raised.value.message and "hunter2-secret" not in raised.value.message
    assert str(raised.value).startswith("up failed: ")
    assert session.after_runs == 1  # a salt the failed run wrote is still remembered


def deployment(value: Any) -> SimpleNamespace:
    return SimpleNamespace(export_stack=lambda: SimpleNamespace(deployment=value))


def test_the_salt_comes_from_a_passphrase_state_only():
    assert salt_from_state(deployment({"secrets_providers": {"type": "passphrase", "state": {"salt": "v1:abc"}}})) == "v1:abc"
    assert salt_from_state(deployment({"secrets_providers": {"type": "awskms", "state": {"salt": "v1:abc"}}})) is None
    assert salt_from_state(deployment({"secrets_providers": {"type": "passphrase", "state": {"salt": ""}}})) is None
    assert salt_from_state(deployment(None)) is None
