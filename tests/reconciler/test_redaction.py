"""Secrets never leave the process: log records (text and JSON lines), tracebacks, extra fields, data, in every printed form."""

from __future__ import annotations

import base64
import io
import json
import logging
import re
import sys
import threading
from urllib.parse import quote, quote_plus, unquote, unquote_plus

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

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


# Property tests: many generated secrets, each printed in one of the forms a careless program uses.

SECRET_ALPHABET = st.characters(codec="utf-8", exclude_categories=("Cs", "Cc", "Zl", "Zp"))
secrets_strategy = st.text(SECRET_ALPHABET, min_size=8, max_size=48).filter(lambda s: len(s.strip()) >= 8)
# Context a secret is printed in: words, punctuation, newlines.
context_strategy = st.text(st.sampled_from("abcdefXYZ 0123456789.,:;-_/()\n\"'é"), max_size=40)


def wrapped(text: str, width: int) -> str:
    return "\n".join(text[start:start + width] for start in range(0, len(text), width))


def without_line_breaks(text: str) -> str:
    """What a reader sees once the newlines (and the next line's indent) and `\\n` escapes are taken out."""
    return re.sub(r"\r?\n[ \t]*|\\n", "", text)


def base64_runs(text: str) -> list[bytes]:
    """Everything a reader could decode from the text's base64 runs (standard or URL-safe), at each alignment."""
    decoded = []
    for run in re.findall(r"[A-Za-z0-9+/_-]{4,}", without_line_breaks(text)):
        run = run.replace("-", "+").replace("_", "/")
        for skip in range(4):
            part = run[skip:]
            part = part[:-1] if len(part) % 4 == 1 else part  # a lone last character encodes no whole byte
            decoded.append(base64.b64decode(part + "=" * (-len(part) % 4)))
    return decoded


JSON_ESCAPES = {'"': '"', "\\": "\\", "/": "/", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t"}


def json_unescaped(text: str) -> str:
    """JSON string escapes undone wherever they are (the text around them need not be JSON)."""
    def undo(escape: re.Match) -> str:
        return chr(int(escape.group(1), 16)) if escape.group(1) else JSON_ESCAPES[escape.group(2)]

    raw = re.sub(r'\\u([0-9a-fA-F]{4})|\\(["\\\\/bfnrt])', undo, text)
    return raw.encode("utf-16", "surrogatepass").decode("utf-16", "replace")


def recoverable(output: str, secret: str) -> bool:
    """Whether the secret can be read back from the output by undoing line breaks, URL, JSON or base64 encoding."""
    unbroken = without_line_breaks(output)
    readings = [unbroken, unquote(unbroken), unquote_plus(unbroken), json_unescaped(unbroken)]
    if any(secret in reading for reading in readings):
        return True
    return any(secret.encode() in data for data in base64_runs(output))


@st.composite
def printed_secret(draw) -> tuple[str, str]:
    """A secret and one printing of it, inside other text."""
    secret = draw(secrets_strategy)
    data = secret.encode()
    prefix, suffix = draw(st.binary(max_size=5)), draw(st.binary(max_size=5))
    cut = draw(st.integers(1, len(secret) - 1))
    forms = {
        "plain": secret,
        "url": quote(secret, safe=""),
        "url-plus": quote_plus(secret),
        "url-lower": re.sub(r"%[0-9A-F]{2}", lambda m: m.group().lower(), quote(secret, safe="")),
        "json": json.dumps(secret)[1:-1],
        "json-unicode": json.dumps(secret, ensure_ascii=False)[1:-1],
        "base64": base64.b64encode(data).decode(),
        "base64-unpadded": base64.b64encode(data).decode().rstrip("="),
        "base64-urlsafe": base64.urlsafe_b64encode(data).decode().rstrip("="),
        "base64-inside": base64.b64encode(prefix + data + suffix).decode(),
        "base64-inside-urlsafe": base64.urlsafe_b64encode(prefix + data + suffix).decode(),
        "base64-wrapped-64": wrapped(base64.b64encode(prefix + data + suffix).decode(), 64),
        "base64-wrapped-76": base64.encodebytes(prefix + data + suffix).decode(),
        "newline": secret[:cut] + "\n" + secret[cut:],
        "newline-indented": secret[:cut] + "\n      " + secret[cut:],
        "escaped-newline": secret[:cut] + "\\n" + secret[cut:],
    }
    form = draw(st.sampled_from(sorted(forms)))
    return secret, draw(context_strategy) + forms[form] + draw(context_strategy)


@settings(max_examples=400, deadline=None)
@given(printed_secret())
def test_no_secret_survives_in_any_printed_form(case):
    secret, text = case
    # Only texts a reader can get the secret back from (an indent after a break can swallow its own spaces),
    # and no secret the marker itself would show.
    assume(recoverable(text, secret) and secret not in MARKER)

    output = Redactor([secret]).redact(text)

    assert not recoverable(output, secret), output
    assert MARKER in output


@settings(max_examples=200, deadline=None)
@given(secrets_strategy, st.data())
def test_ordinary_text_of_the_same_length_is_left_alone(secret, data):
    ordinary = data.draw(st.text(SECRET_ALPHABET, min_size=len(secret), max_size=len(secret)))
    assume(not recoverable(ordinary, secret))
    # A `\n` inside a secret is taken for a line break, like any other: the secret is then the rest.
    assume(without_line_breaks(secret) not in without_line_breaks(ordinary))

    assert Redactor([secret]).redact(ordinary) == ordinary


def test_each_long_line_of_a_multi_line_secret_is_masked_and_short_lines_are_not():
    key = "-----BEGIN KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\nshort\n-----END KEY-----"
    diff = "  ~ key: '-----BEGIN KEY-----'\n      MIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n      short\n"

    output = Redactor([key]).redact(diff)

    assert "MIIEvQIBADANBgkqhkiG9w0BAQEFAASC" not in output and "-----BEGIN KEY-----" not in output
    assert "short" in output


def test_a_multi_line_secret_printed_whole_is_one_marker():
    key = "-----BEGIN KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\nshort\n-----END KEY-----"
    assert Redactor([key]).redact(f"key: {key}\n") == "key: [redacted]\n"


@pytest.mark.parametrize("text, expected", [
    ("step 1\ntoken=hunter2-password done", "step 1\ntoken=[redacted] done"),
    # broken across lines: the secret and the break inside it go, the text around it stays whole
    ("token=hunter2-\n    password done\nnext", "token=[redacted] done\nnext"),
    ("hunter2-password\\n", "[redacted]\\n"),
    ("a=hunter2-password\nb=hunter2-password.", "a=[redacted]\nb=[redacted]."),
])
def test_in_text_with_line_breaks_only_the_secret_is_replaced(text, expected):
    assert Redactor(["hunter2-password"]).redact(text) == expected


def test_the_marker_is_chosen_by_the_caller():
    assert Redactor(["hunter2-password"], marker="[secret]").redact("pw=hunter2-password") == "pw=[secret]"


def test_an_uncaught_exception_in_a_thread_is_one_redacted_json_entry(logs):
    stream, redactor = logs
    configure_logging(redactor, "json", "INFO", stream)

    def fail() -> None:
        raise ValueError(f"worker saw {SECRET}")

    try:
        worker = threading.Thread(target=fail, name="worker-1")
        worker.start()
        worker.join()
    finally:
        threading.excepthook = threading.__excepthook__
        sys.excepthook = sys.__excepthook__

    (entry,) = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert entry["level"] == "critical" and "worker-1" in entry["msg"] and "ValueError" in entry["exc"]
    assert SECRET not in stream.getvalue() and MARKER in entry["exc"]
