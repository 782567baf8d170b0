"""Notifications of recorded runs, received by HTTP servers on loopback: payloads, signature, filters, repeats, limits.

The runs are handed to the listener as the recorder hands them over; everything after that is real:
the config file, the background delivery, the HTTP POSTs over sockets, the retries.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import logging
import threading
from pathlib import Path
from typing import Any, Optional

import pytest

from reconciler.notify.listeners import notification_listeners
from reconciler.notify.notifier import Notifier
from reconciler.process_setup import redactor_for
from reconciler.settings import ServiceConfig, load_config
from reconciler.status.model import ChangeCounts, Result, RunKind, RunOutcome, StackState
from reconciler.telemetry.log_format import RedactingFilter
from testsupport.reconciler_testing import tiny_stack, write_config
from testsupport.recording_server import recording_server

HMAC_KEY = "notify-hmac-key-7f3a9"
SLACK_URL_ENV = "NOTIFY_TEST_SLACK_URL"
COMMIT_A = "0123456789abcdef0123456789abcdef01234567"
COMMIT_B = "89abcdef0123456789abcdef0123456789abcdef"
STARTED = 1_790_000_000.0  # 2026-09-21T14:13:20Z


@pytest.fixture
def key_file(tmp_path: Path) -> Path:
    path = tmp_path / "hmac.key"
    path.write_text(HMAC_KEY + "\n")
    return path


def load(tmp_path: Path, remote, sinks: list[dict[str, Any]], **notifications: Any) -> ServiceConfig:
    stacks = [tiny_stack(remote, tmp_path / "backend", secrets_passphrase=None),
              tiny_stack(remote, tmp_path / "backend", secrets_passphrase=None, name="other", stack="other")]
    return load_config(write_config(tmp_path / "reconciler.yaml", stacks, notifications={"sinks": sinks, **notifications}))


def notifier(config: ServiceConfig) -> Notifier:
    [listener] = [found for found in notification_listeners(config, redactor_for(config)) if isinstance(found, Notifier)]
    return listener


def webhook(url: str, key_file: Path, **settings: Any) -> dict[str, Any]:
    return {"name": "hook", "type": "webhook", "url": url, "secret": {"file": str(key_file)}, "retry_backoff": "0.05s", **settings}


def run(result: Result, commit: Optional[str] = COMMIT_A, stack: str = "tiny", reason: Optional[str] = None,
        error: Optional[str] = None) -> RunOutcome:
    return RunOutcome(stack, commit, "poll", RunKind.APPLY, result, STARTED, STARTED + 12.5,
                      changes=ChangeCounts(create=1, update=2, same=4), reason=reason, error_message=error)


def record(listener: Notifier, config: ServiceConfig, outcome: RunOutcome) -> None:
    listener.run_recorded(config.stack(outcome.stack), outcome, StackState(outcome.stack))


def failure(commit: str = COMMIT_A, error: str = "boom") -> RunOutcome:
    return run(Result.FAILED, commit, reason="ProgramError", error=error)


def test_a_webhook_gets_the_run_as_json_signed_with_hmac_sha256_of_the_body(tmp_path, remote, key_file):
    with recording_server() as server:
        config = load(tmp_path, remote, [webhook(server.url, key_file)], link="https://ci.example.com/{stack}/{short_commit}?c={commit}")
        listener = notifier(config)
        record(listener, config, failure(error="boom: the program failed"))
        listener.flush(10)
        [request] = server.wait_for(1)

    assert request.json() == {
        "stack": "tiny",
        "commit": COMMIT_A,
        "result": "failed",
        "reason": "ProgramError",
        "kind": "apply",
        "trigger": "poll",
        "severity": "error",
        "recovered": False,
        "recovered_from": None,
        "changes": {"create": 1, "update": 2, "replace": 0, "delete": 0, "same": 4},
        "duration_s": 12.5,
        "error": "boom: the program failed",
        "link": f"https://ci.example.com/tiny/0123456789ab?c={COMMIT_A}",
        "message": "tiny: failed at 0123456789ab (ProgramError); create=1 update=2 same=4 in 12.5s: boom: the program failed",
        "timestamp": "2026-09-21T14:13:32.500000Z",
        "reportingController": "pulumi-gitops",
    }
    assert request.headers["content-type"] == "application/json"
    expected = "sha256=" + hmac.new(HMAC_KEY.encode(), request.body, hashlib.sha256).hexdigest()
    assert request.headers["x-signature"] == expected
    forged = "sha256=" + hmac.new(b"another key", request.body, hashlib.sha256).hexdigest()
    assert request.headers["x-signature"] != forged


def test_a_slack_sink_gets_an_incoming_webhook_message_with_the_markup_escaped(tmp_path, remote, monkeypatch):
    with recording_server() as server:
        monkeypatch.setenv(SLACK_URL_ENV, server.url + "/T000/B000/slacktoken123")
        config = load(tmp_path, remote, [{"name": "chat", "type": "slack", "url": {"env": SLACK_URL_ENV}}],
                      link="https://ci.example.com/{stack}")
        listener = notifier(config)
        record(listener, config, failure(error="x < y & <@channel>"))
        listener.flush(10)
        [request] = server.wait_for(1)

    assert request.path == "/hook/T000/B000/slacktoken123"
    assert "x-signature" not in request.headers
    assert request.json() == {
        "text": "tiny: failed at 0123456789ab (ProgramError); create=1 update=2 same=4 in 12.5s: x &lt; y &amp; &lt;@channel&gt;",
        "attachments": [{
            "color": "danger",
            "author_name": "pulumi-gitops",
            "title": "tiny: failed at 0123456789ab (ProgramError)",
            "title_link": "https://ci.example.com/tiny",
            "text": "x &lt; y &amp; &lt;@channel&gt;",
            "fields": [
                {"title": "commit", "value": "0123456789ab", "short": True},
                {"title": "changes", "value": "create=1 update=2 same=4", "short": True},
                {"title": "duration", "value": "12.5s", "short": True},
                {"title": "reason", "value": "ProgramError", "short": True},
            ],
            "ts": 1_790_000_012,
        }],
    }


def test_only_the_results_and_stacks_a_sink_asks_for_are_sent(tmp_path, remote, key_file):
    with recording_server() as server:
        config = load(tmp_path, remote, [webhook(server.url, key_file, results=["failed", "drifted"], stacks=["other"])])
        listener = notifier(config)
        record(listener, config, run(Result.FAILED, stack="tiny", reason="ProgramError"))
        record(listener, config, run(Result.APPLIED, COMMIT_B, stack="other"))
        record(listener, config, run(Result.BLOCKED, COMMIT_B, stack="other", reason="DeletionGuard"))
        record(listener, config, run(Result.DRIFTED, COMMIT_B, stack="other", reason="Drifted"))
        listener.flush(10)

    assert [(body["stack"], body["result"]) for body in server.bodies()] == [("other", "drifted")]


def test_a_failure_repeated_is_sent_once_and_its_end_once_even_across_processes(tmp_path, remote, key_file):
    with recording_server() as server:
        config = load(tmp_path, remote, [webhook(server.url, key_file, results=["failed"])])
        listener = notifier(config)
        for _ in range(3):
            record(listener, config, failure())
        listener.flush(10)
        # A `once` run from cron is a new process: it remembers what was announced.
        again = notifier(config)
        record(again, config, failure())
        record(again, config, run(Result.APPLIED, COMMIT_B))
        record(again, config, run(Result.APPLIED, COMMIT_B))
        record(again, config, run(Result.SKIPPED, COMMIT_B))
        again.flush(10)
        bodies = server.bodies()

    assert [(body["result"], body["recovered"], body["recovered_from"]) for body in bodies] == [
        ("failed", False, None), ("applied", True, "failed"),
    ]
    assert bodies[1]["message"].startswith("tiny: recovered (was failed): applied at 89abcdef0123")
    assert bodies[1]["severity"] == "info"


def test_a_different_failure_or_a_new_commit_failing_is_sent_again(tmp_path, remote, key_file):
    with recording_server() as server:
        config = load(tmp_path, remote, [webhook(server.url, key_file)])
        listener = notifier(config)
        record(listener, config, failure(COMMIT_A, "boom"))
        record(listener, config, failure(COMMIT_A, "another boom"))
        record(listener, config, failure(COMMIT_B, "another boom"))
        listener.flush(10)

    assert [(body["commit"], body["error"]) for body in server.bodies()] == [
        (COMMIT_A, "boom"), (COMMIT_A, "another boom"), (COMMIT_B, "another boom"),
    ]


def test_past_the_rate_limit_messages_are_dropped_and_logged(tmp_path, remote, key_file, caplog):
    with recording_server() as server:
        config = load(tmp_path, remote, [webhook(server.url, key_file, rate_limit={"messages": 2, "per": "1h"})])
        listener = notifier(config)
        with caplog.at_level(logging.WARNING, logger="reconciler"):
            for number in range(4):
                record(listener, config, failure(error=f"boom {number}"))
        listener.flush(10)

    assert [body["error"] for body in server.bodies()] == ["boom 0", "boom 1"]
    dropped = [record.getMessage() for record in caplog.records if "rate limit" in record.getMessage()]
    assert len(dropped) == 2 and "tiny: failed at 0123456789ab" in dropped[0]


def test_5xx_answers_are_retried_until_one_succeeds(tmp_path, remote, key_file, caplog):
    with recording_server() as server:
        server.statuses = [500, 502, 503]
        config = load(tmp_path, remote, [webhook(server.url, key_file, retries=3)])
        listener = notifier(config)
        with caplog.at_level(logging.WARNING, logger="reconciler"):
            record(listener, config, failure())
            listener.flush(30)
        received = server.received

    assert len(received) == 4 and len({request.body for request in received}) == 1, "the same message, four times"
    assert not [r for r in caplog.records if "gave up" in r.getMessage()]


def test_a_sink_that_keeps_failing_is_given_up_on_after_its_retries_and_logged(tmp_path, remote, key_file, caplog):
    with recording_server() as server:
        server.statuses = [500] * 10
        config = load(tmp_path, remote, [webhook(server.url, key_file, retries=2)])
        listener = notifier(config)
        with caplog.at_level(logging.WARNING, logger="reconciler"):
            record(listener, config, failure())
            listener.flush(30)
        attempts = len(server.received)

    assert attempts == 3
    [gave_up] = [r.getMessage() for r in caplog.records if "gave up" in r.getMessage()]
    assert "sink hook" in gave_up and "HTTP 500" in gave_up


def test_a_hanging_sink_never_holds_the_run_and_flush_ends_at_its_deadline(tmp_path, remote, key_file):
    answer = threading.Event()
    with recording_server() as server:
        server.before_answer = answer.wait
        config = load(tmp_path, remote, [webhook(server.url, key_file, timeout="30s")])
        listener = notifier(config)
        record(listener, config, failure())  # returns while the sink holds the request
        server.wait_for(1)
        assert not listener.sinks[0].flush(0.2), "the delivery is still waiting for its answer"
        answer.set()
        assert listener.sinks[0].flush(10)


def test_an_unreachable_sink_is_logged_without_its_url_and_never_raises(tmp_path, remote, monkeypatch, caplog):
    with recording_server() as server:
        closed_url = server.url
    token_url = closed_url + "/T000/B000/unreachabletoken42"
    monkeypatch.setenv(SLACK_URL_ENV, token_url)
    config = load(tmp_path, remote, [{"name": "chat", "type": "slack", "url": {"env": SLACK_URL_ENV}, "retries": 1,
                                      "retry_backoff": "0.05s"}])
    listener = notifier(config)
    # The service's log handler: every record (urllib3's retries too) passes the redaction filter.
    written = io.StringIO()
    handler = logging.StreamHandler(written)
    handler.addFilter(RedactingFilter(redactor_for(config)))
    logging.getLogger().addHandler(handler)
    try:
        with caplog.at_level(logging.DEBUG):
            record(listener, config, failure())
            listener.flush(30)
    finally:
        logging.getLogger().removeHandler(handler)

    [gave_up] = [r.getMessage() for r in caplog.records if "gave up" in r.getMessage()]
    assert "sink chat" in gave_up and "no answer (NewConnectionError) after 2 attempt(s)" in gave_up
    assert "Retrying" in written.getvalue(), "urllib3 logged its retries"
    assert "unreachabletoken42" not in written.getvalue()


def test_secrets_reach_a_payload_only_redacted(tmp_path, remote, key_file, monkeypatch):
    monkeypatch.setenv("NOTIFY_TEST_TOKEN", "stack-secret-value-91c")
    with recording_server() as server:
        monkeypatch.setenv(SLACK_URL_ENV, server.url + "/T000/B000/slacktoken123")
        stacks = [tiny_stack(remote, tmp_path / "backend", secrets_passphrase=None, config={"tiny:token": {"secret_env": "NOTIFY_TEST_TOKEN"}})]
        config = load_config(write_config(tmp_path / "reconciler.yaml", stacks, notifications={"sinks": [
            webhook(server.url, key_file), {"name": "chat", "type": "slack", "url": {"env": SLACK_URL_ENV}},
        ]}))
        listener = notifier(config)
        leaked = f"printed stack-secret-value-91c, {HMAC_KEY} and {server.url}/T000/B000/slacktoken123"
        record(listener, config, failure(error=leaked))
        # The one-line summary keeps 300 characters of the error: the secret straddles the cut.
        record(listener, config, failure(error="." * 290 + " stack-secret-value-91c"))
        listener.flush(10)
        received = server.wait_for(4)

    for request in received:
        body = request.body.decode()
        assert "stack-sec" not in body and HMAC_KEY not in body and "slacktoken123" not in body
    assert "printed [redacted], [redacted] and [redacted]" in received[0].body.decode()
