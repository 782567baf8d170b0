"""Ciphertexts of a stack's secret overrides, so a fresh checkout with the same salt and value needs no `config set --secret`.

A ciphertext is valid for one salt and one value. In memory, entries live as
long as the process (a stack's live workspace). With a file, they outlive it:
a pull request preview gets a fresh checkout and a fresh process each time,
and each `config set --secret` costs a CLI start and a key derivation. The file
finds entries by an HMAC of (salt, key, value) keyed with the stack's
passphrase, so it holds nothing a value could be guessed from without the
passphrase, only ciphertexts the stack's file holds anyway.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from pathlib import Path
from typing import Optional

from .json_file import read_json, replace_json

# Old values' entries go first; a stack has a handful of secret overrides.
MAX_ENTRIES = 256


class Ciphertexts:
    def __init__(self, path: Optional[Path] = None, passphrase: Optional[str] = None) -> None:
        # Without a passphrase (another secrets provider) there is no key for the HMAC: memory only.
        self._path = path if passphrase else None
        self._key = (passphrase or "").encode()
        self._entries: dict[str, str] = self._read()

    def get(self, salt: str, key: str, value: str) -> Optional[str]:
        return self._entries.get(self._digest(salt, key, value))

    def put(self, salt: str, key: str, value: str, ciphertext: str) -> None:
        digest = self._digest(salt, key, value)
        if self._entries.get(digest) == ciphertext:
            return
        self._entries[digest] = ciphertext
        while len(self._entries) > MAX_ENTRIES:
            del self._entries[next(iter(self._entries))]
        self._write()

    def _digest(self, salt: str, key: str, value: str) -> str:
        return hmac.new(self._key, json.dumps([salt, key, value]).encode(), hashlib.sha256).hexdigest()

    def _read(self) -> dict[str, str]:
        # Nothing readable: encrypting again is always correct.
        entries = read_json(self._path) if self._path is not None else None
        return {k: v for k, v in entries.items() if isinstance(v, str)} if isinstance(entries, dict) else {}

    def _write(self) -> None:
        if self._path is not None:
            replace_json(self._path, self._entries)
