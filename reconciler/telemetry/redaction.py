"""Replaces every known secret value with a marker, wherever text leaves the process.

The same Redactor is fed every secret the reconciler learns (config file
secrets, decrypted stack config secrets) and is applied to logs, stored
errors, /status and the command-line output.
"""

from __future__ import annotations

import base64
import re
import threading
from typing import Any, Iterable, Optional
from urllib.parse import quote

MARKER = "[redacted]"
# Shorter values are not worth calling secrets, and replacing them would
# garble every log line that happens to contain those letters.
MIN_SECRET_LENGTH = 4


class Redactor:
    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._lock = threading.Lock()
        self._values: set[str] = set()
        self._pattern: Optional[re.Pattern[str]] = None
        self.add(*secrets)

    def add(self, *secrets: str) -> None:
        forms = set()
        for secret in secrets:
            if isinstance(secret, str) and len(secret.strip()) >= MIN_SECRET_LENGTH:
                forms |= {secret, secret.strip(), quote(secret, safe="")}
        with self._lock:
            if forms <= self._values:
                return
            self._values |= forms
            ordered = sorted(self._values, key=len, reverse=True)
            self._pattern = re.compile("|".join(re.escape(value) for value in ordered))

    def add_basic_auth(self, username: str, password: str) -> None:
        """The header form git sends, so a traced header can never show the token."""
        self.add(password, base64.b64encode(f"{username}:{password}".encode()).decode())

    def redact(self, text: Any) -> Any:
        if not isinstance(text, str) or self._pattern is None:
            return text
        return self._pattern.sub(MARKER, text)

    def redact_data(self, value: Any) -> Any:
        """A JSON-like structure with every string in it redacted."""
        if isinstance(value, str):
            return self.redact(value)
        if isinstance(value, dict):
            return {self.redact(key): self.redact_data(item) for key, item in value.items()}
        if isinstance(value, (list, tuple)):
            return [self.redact_data(item) for item in value]
        return value
