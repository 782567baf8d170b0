"""Each printed form of a secret is replaced whole: no character of it is left beside the marker.

reconciler/README.md: a secret is masked as printed, URL-encoded, JSON-escaped, and each line of
8+ characters of a multi-line secret; "the whole span replaced".
"""

from __future__ import annotations

import base64
import json
from urllib.parse import quote, urlencode

import pytest

from reconciler.telemetry.redaction import Redactor

# Characters every encoder escapes differently: non-ASCII, a quote, a slash, a space, a plus.
SECRET = 'pässwörd "x"/a b+c'


@pytest.mark.parametrize("printed", [
    json.dumps({"password": SECRET}),
    json.dumps({"password": SECRET}, ensure_ascii=False),
], ids=["ascii-escapes", "unicode-kept"])
def test_a_json_escaped_secret_is_one_marker_between_its_quotes(printed):
    assert Redactor([SECRET]).redact(printed) == '{"password": "[redacted]"}'


@pytest.mark.parametrize("printed", [
    "https://example.test/login?pw=" + quote(SECRET, safe="") + "&next=1",  # encodeURIComponent
    "https://example.test/login?" + urlencode({"pw": SECRET}) + "&next=1",  # a form body
    "https://example.test/login?pw=" + quote(SECRET) + "&next=1",  # a path, `/` kept
], ids=["component", "form", "path"])
def test_a_url_encoded_secret_is_one_marker(printed):
    assert Redactor([SECRET]).redact(printed) == "https://example.test/login?pw=[redacted]&next=1"


def test_a_line_of_exactly_eight_characters_of_a_multi_line_secret_is_masked_alone():
    key = "-----BEGIN KEY-----\nQUJDREVG\nshort12\n-----END KEY-----"

    printed = Redactor([key]).redact("    QUJDREVG\n    short12\n")

    assert printed == "    [redacted]\n    short12\n"


@pytest.mark.parametrize("alphabet", [base64.b64encode, base64.urlsafe_b64encode], ids=["standard", "url-safe"])
def test_unpadded_base64_of_a_secret_is_one_marker_up_to_its_last_character(alphabet):
    secret = "hunter2-password!?>"  # 19 bytes: the last group is partial, padded with "=" when padded
    unpadded = alphabet(secret.encode()).decode().rstrip("=")

    assert Redactor([secret]).redact(f"Authorization: Basic {unpadded}.") == "Authorization: Basic [redacted]."
