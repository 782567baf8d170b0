"""Secrets never leave the process: log records (text and JSON lines), tracebacks, extra fields, data."""

from __future__ import annotations

import io
import json
import logging

import pytest

from reconciler.telemetry.log_format import configure_logging
from reconciler.telemetry.redaction import MARKER, Redactor

SECRET = "p@ss word/with+chars"


@pytest.fixture
def logs():
    stream = io.StringIO()
    redactor = Redactor([SECRET])
    yield stream, redactor
    logging.getLogger().handlers.clear()


def test_text_logs_redact_the_message_arguments_and_the_traceback(logs):
    stream, redactor = logs
    configure_logging(redactor, "text", "INFO", stream)
    try:
        raise RuntimeError(f"token {SECRET} refused")
    except RuntimeError:
        logging.getLogger("reconciler").exception("pushing with %s failed", SECRET, extra={"stack": "web"})

    text = stream.getvalue()
    assert SECRET not in text
    assert text.count(MARKER) == 2 and "[web]" in text and "RuntimeError" in text


def test_json_lines_are_one_object_per_line_with_extra_fields_redacted(logs):
    stream, redactor = logs
    configure_logging(redactor, "json", "INFO", stream)
    log = logging.getLogger("reconciler.engine")

    log.info("engine said %s", SECRET, extra={"stack": "web", "commit": "abc", "detail": {"token": SECRET}})
    log.warning("second line")

    first, second = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert first["msg"] == f"engine said {MARKER}"
    assert first["detail"] == {"token": MARKER}
    assert (first["stack"], first["commit"], first["level"], first["logger"]) == ("web", "abc", "info", "reconciler.engine")
    assert second["msg"] == "second line"


def test_secrets_learned_later_are_redacted_too_in_every_encoded_form():
    redactor = Redactor()
    redactor.add("decrypted-config-value")
    redactor.add_basic_auth("x-access-token", "ghp_token123")

    text = redactor.redact("a decrypted-config-value b ghp_token123 c eC1hY2Nlc3MtdG9rZW46Z2hwX3Rva2VuMTIz d")
    url_encoded = redactor.redact("p%40ss")

    assert text == f"a {MARKER} b {MARKER} c {MARKER} d"
    assert redactor.redact_data({"k": ["decrypted-config-value", 3]}) == {"k": [MARKER, 3]}
    assert url_encoded == "p%40ss", "unrelated text is left alone"


def test_values_too_short_to_be_secrets_are_not_redacted():
    assert Redactor(["abc", "", "   "]).redact("abc") == "abc"
