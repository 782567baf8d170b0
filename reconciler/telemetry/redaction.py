"""Replaces every known secret value with a marker, wherever text leaves the process.

One Redactor serves the logs, stored errors, /status and the command-line
output (marker `[redacted]`) and pull request comments (marker `[secret]`).
It is fed every secret the reconciler learns (config file secrets, decrypted
stack config secrets) and masks each in the forms a careless program prints
it in: as is, URL-encoded, JSON-escaped, base64 (standard or URL-safe, padded
or not, alone or inside a longer base64 text at any alignment), each long
line of a multi-line secret, and any of these broken across lines (a newline,
with the next line's indent, or a literal `\\n` anywhere in it, as base64
wrapped at 64 or 76 columns is).
"""

from __future__ import annotations

import base64
import json
import re
import threading
from typing import Any, Iterable, Optional
from urllib.parse import quote, quote_plus

MARKER = "[redacted]"
# Shorter values are not worth calling secrets, and replacing them would
# garble every log line that happens to contain those letters.
MIN_SECRET_LENGTH = 4
# A multi-line secret (a key, a certificate) is printed one line at a time,
# each with its own indent, so its lines are masked too; shorter lines ("}",
# "-----") are too common to mask without hiding ordinary text.
MIN_MASKED_LINE = 8
# Base64 of a secret inside longer base64 keeps only the characters that
# depend on the secret alone; shorter base64 runs turn up in ordinary text.
MIN_BASE64_CORE = 8
# What a line break inside a printed secret looks like: a newline and the next
# line's indent, or the two characters `\n` of an escaped string.
_LINE_BREAK = re.compile(r"\r?\n[ \t]*|\\r\\n|\\n")
_PERCENT_ESCAPE = re.compile(r"%[0-9A-F]{2}")


class Redactor:
    def __init__(self, secrets: Iterable[str] = (), marker: str = MARKER, min_length: int = MIN_SECRET_LENGTH) -> None:
        self.marker = marker
        self._min_length = min_length
        self._lock = threading.Lock()
        self._needles: set[str] = set()
        self._pattern: Optional[re.Pattern[str]] = None
        self.add(*secrets)

    def add(self, *secrets: str) -> None:
        needles: set[str] = set()
        for secret in secrets:
            if isinstance(secret, str) and len(secret.strip()) >= self._min_length:
                needles |= {_unbroken(form) for form in secret_forms(secret)}
        needles = {needle for needle in needles if len(needle) >= self._min_length}
        with self._lock:
            if needles <= self._needles:
                return
            self._needles |= needles
            # Longest first: a secret that contains another is masked whole.
            ordered = sorted(self._needles, key=len, reverse=True)
            self._pattern = re.compile("|".join(re.escape(needle) for needle in ordered))

    def add_basic_auth(self, username: str, password: str) -> None:
        """The header form git sends, so a traced header can never show the token."""
        self.add(password, base64.b64encode(f"{username}:{password}".encode()).decode())

    def redact(self, text: Any) -> Any:
        pattern = self._pattern
        if not isinstance(text, str) or pattern is None:
            return text
        unbroken, origin = _without_line_breaks(text)
        if origin is None:
            return pattern.sub(self.marker, text)
        pieces, kept_until = [], 0
        for match in pattern.finditer(unbroken):
            start, end = origin[match.start()], origin[match.end() - 1] + 1
            pieces += [text[kept_until:start], self.marker]
            kept_until = end
        return "".join(pieces) + text[kept_until:]

    def redact_data(self, value: Any) -> Any:
        """A JSON-like structure with every string in it redacted."""
        if isinstance(value, str):
            return self.redact(value)
        if isinstance(value, dict):
            return {self.redact(key): self.redact_data(item) for key, item in value.items()}
        if isinstance(value, (list, tuple)):
            return [self.redact_data(item) for item in value]
        return value


def secret_forms(secret: str) -> set[str]:
    """Every spelling of the secret to mask (line breaks inside them are handled by the matching)."""
    plain = {secret, secret.strip()}
    if "\n" in secret:
        plain |= {line.strip() for line in secret.splitlines() if len(line.strip()) >= MIN_MASKED_LINE}
    forms = set(plain)
    for value in plain:
        forms |= _url_encoded(value) | _json_escaped(value) | _base64_forms(value.encode("utf-8"))
    return forms


def _url_encoded(value: str) -> set[str]:
    upper = {quote(value, safe=""), quote(value), quote_plus(value)}
    return upper | {_PERCENT_ESCAPE.sub(lambda escape: escape.group().lower(), form) for form in upper}


def _json_escaped(value: str) -> set[str]:
    return {json.dumps(value)[1:-1], json.dumps(value, ensure_ascii=False)[1:-1]}


def _base64_forms(data: bytes) -> set[str]:
    whole = base64.b64encode(data).decode()
    forms = {whole, whole.rstrip("=")}
    # Inside a longer base64 text the secret starts 0, 1 or 2 bytes into a
    # 3-byte group; the groups holding only its bytes encode the same way
    # whatever surrounds them.
    for skip in range(3):
        rest = data[skip:]
        forms.add(base64.b64encode(rest[: len(rest) // 3 * 3]).decode())
    forms = {form for form in forms if len(form) >= MIN_BASE64_CORE}
    return forms | {form.replace("+", "-").replace("/", "_") for form in forms}


def _unbroken(text: str) -> str:
    return _LINE_BREAK.sub("", text)


def _without_line_breaks(text: str) -> tuple[str, Optional[list[int]]]:
    """The text with its line breaks removed, and where each remaining character was (None: nothing removed)."""
    if "\n" not in text and "\\n" not in text:
        return text, None
    kept: list[str] = []
    origin: list[int] = []
    position = 0
    for line_break in _LINE_BREAK.finditer(text):
        kept.append(text[position:line_break.start()])
        origin.extend(range(position, line_break.start()))
        position = line_break.end()
    kept.append(text[position:])
    origin.extend(range(position, len(text)))
    return "".join(kept), origin
